package dev.bitcoinmp.capnp;

/** A capability for an object of this process; calls on it are dispatched without a connection. */
final class LocalCap extends Capability {

    final Server server;

    LocalCap(Server server) {
        if (server == null) throw new NullPointerException("server");
        this.server = server;
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
    public Capability dup() { return new LocalCap(server); }

    @Override
    public void close() {}
}
