package dev.bitcoinmp.capnp;

/** A capability that can only fail: what a call on a dead connection or a failed promise gets. */
final class BrokenCap extends Capability {

    final RpcException error;

    BrokenCap(RpcException error) {
        this.error = error;
    }

    @Override
    PendingCall send(OutgoingCall call) {
        PendingCall pending = new PendingCall(null);
        pending.fail(error);
        return pending;
    }

    @Override
    public Server localServer() { return null; }

    @Override
    public Capability dup() { return this; }

    @Override
    public void close() {}
}
