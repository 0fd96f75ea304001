package dev.bitcoinmp.capnp;

import org.capnproto.BuilderArena;

/**
 * A call being prepared: its parameters are written straight into the Call message that will be sent
 * (or, for an object of this process, read back from it by the callee).
 */
public final class OutgoingCall {

    private static final Capability[] NO_CAPS = new Capability[0];

    final Capability target;
    final long interfaceId;
    final int methodId;
    final StructOut call;       // the Call struct of the message
    final StructOut payload;
    private final StructOut params;
    /** Handles this call owns until it is sent ([0, capCount)); null entries stand for null capabilities. */
    private Capability[] caps = NO_CAPS;
    private int capCount;
    private boolean sent;

    OutgoingCall(Capability target, long interfaceId, int methodId, int dataWords, int pointerCount, int sizeHint) {
        this.target = target;
        this.interfaceId = interfaceId;
        this.methodId = methodId;
        // Beyond the parameters and what the size hint counts (their content, the capability table): the
        // target (a promised answer with a transform of up to three steps, at most) and the payload.
        int words = Messages.words(RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS, 10 + dataWords + pointerCount + (sizeHint + 7) / 8);
        RpcConnection connection = target.connection();
        BuilderArena message = connection != null ? connection.takeMessage(words) : Messages.newArena(words);
        call = Messages.start(message, RpcSchema.CALL, RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS);
        call.setLong(RpcSchema.CALL_IFACE_LONG, interfaceId);
        call.setShort(RpcSchema.CALL_METHOD_SHORT, (short) methodId);
        payload = call.initStruct(RpcSchema.CALL_PARAMS, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
        params = payload.initStruct(0, dataWords, pointerCount);
    }

    /** The parameter struct, to fill before sending (and not to touch after: the message is reused once sent). */
    public StructOut params() {
        return params;
    }

    /**
     * Adds {@code cap} to the message's capability table and returns its index, to be written with
     * {@link StructOut#setCapIndex}. The caller keeps its own handle.
     */
    public int addCap(Capability cap) {
        if (capCount == caps.length) caps = java.util.Arrays.copyOf(caps, Math.max(2, 2 * capCount));
        caps[capCount] = cap == null ? null : cap.dup();
        return capCount++;
    }

    int capCount() {
        return capCount;
    }

    /** The handle at {@code index} of the capability table (null for a null capability). */
    Capability cap(int index) {
        return caps[index];
    }

    /** Sends the call; its answer comes through the returned handle. */
    public PendingCall send() {
        if (sent) throw new IllegalStateException("call already sent");
        sent = true;
        return target.send(this);
    }

    void closeCaps() {
        for (int i = 0; i < capCount; i++) {
            if (caps[i] != null) caps[i].close();
            caps[i] = null;
        }
        capCount = 0;
    }
}
