package dev.bitcoinmp.capnp;

/**
 * A reference to an object that receives calls: hosted here ({@link #local}), imported from a peer, promised
 * by a call not answered yet, or broken. Each handle is owned by whoever holds it and is closed once;
 * {@link #dup()} makes another handle to the same object.
 */
public abstract sealed class Capability implements AutoCloseable
        permits LocalCap, BrokenCap, RpcConnection.ImportCap, RpcConnection.PromiseCap {

    /** A capability for an object of this process. */
    public static Capability local(Server server) {
        return new LocalCap(server);
    }

    /** A capability on which every call fails with {@code error}. */
    public static Capability broken(RpcException error) {
        return new BrokenCap(error);
    }

    /**
     * Starts a call: fill {@link OutgoingCall#params()}, then {@link OutgoingCall#send()}. {@code sizeHint}
     * is what the parameters need beyond their struct, in bytes: what they point to and, if they carry
     * capabilities, the capability table (8 + 16 per entry). The message's first segment is sized by it;
     * what does not fit goes into further segments.
     */
    public final OutgoingCall newCall(long interfaceId, int methodId, int dataWords, int pointerCount, int sizeHint) {
        return new OutgoingCall(this, interfaceId, methodId, dataWords, pointerCount, sizeHint);
    }

    abstract PendingCall send(OutgoingCall call);

    /** The connection this capability's calls go out on (where their messages come from), or null. */
    RpcConnection connection() {
        return null;
    }

    /** The object behind this capability if it lives in this process (resolved promises included), else null. */
    public abstract Server localServer();

    /** Another handle to the same object, closed separately. */
    public abstract Capability dup();

    /** Releases this handle; idempotent. */
    @Override
    public abstract void close();
}
