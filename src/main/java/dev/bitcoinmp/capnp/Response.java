package dev.bitcoinmp.capnp;

/**
 * The results of a call that returned; owns the capabilities they carry until taken or closed. The results
 * are readable until the response is closed: their message is then reused for another.
 */
public final class Response implements AutoCloseable {

    private final StructIn results;
    private final Capability[] caps;
    private final PendingCall call;
    private boolean closed;

    Response(StructIn results, Capability[] caps, PendingCall call) {
        this.results = results;
        this.caps = caps;
        this.call = call;
    }

    /** The results; not to be read after {@link #close()}. */
    public StructIn results() {
        return results;
    }

    /** Takes the capability at {@code index} of the result's table (null for an empty or unknown index). */
    public Capability takeCap(int index) {
        if (index < 0 || index >= caps.length) return null;
        Capability cap = caps[index];
        caps[index] = null;
        return cap;
    }

    /** The size of the result's capability table. */
    int capCount() {
        return caps.length;
    }

    @Override
    public void close() {
        for (int i = 0; i < caps.length; i++) {
            if (caps[i] != null) caps[i].close();
            caps[i] = null;
        }
        if (closed) return;
        closed = true;
        call.responseClosed();
    }
}
