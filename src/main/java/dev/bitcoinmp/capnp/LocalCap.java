package dev.bitcoinmp.capnp;

/** A capability for an object of this process; calls on it are dispatched without a connection. */
final class LocalCap extends Capability {

    final Server server;
    private final Hold hold;      // keeps an export's object alive while this handle is open; may be null
    private boolean closed;

    /** A reference that keeps something alive until released. */
    interface Hold {
        void acquire();

        void release();
    }

    LocalCap(Server server) {
        this(server, null);
    }

    LocalCap(Server server, Hold hold) {
        if (server == null) throw new NullPointerException("server");
        this.server = server;
        this.hold = hold;
    }

    @Override
    PendingCall send(OutgoingCall call) {
        PendingCall pending = new PendingCall(null);
        LocalIncomingCall incoming = new LocalIncomingCall(call, pending);
        try {
            server.dispatch(incoming);
        } catch (RuntimeException e) {
            incoming.returnException(e);
        }
        return pending;
    }

    @Override
    public Server localServer() { return server; }

    @Override
    public Capability dup() {
        // Without a hold, closing a handle does nothing: every handle can be this one.
        if (hold == null) return this;
        synchronized (this) {
            // The hold (a table entry) may serve another export by now.
            if (closed) throw new IllegalStateException("dup of a released capability");
        }
        hold.acquire();
        return new LocalCap(server, hold);
    }

    @Override
    public void close() {
        if (hold == null) return;
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        hold.release();
    }
}
