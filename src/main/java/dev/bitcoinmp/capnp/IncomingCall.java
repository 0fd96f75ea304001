package dev.bitcoinmp.capnp;

/**
 * A call to an object of this process, as its {@link Server} sees it: read the parameters, then answer
 * once with results or an exception, from any thread.
 */
public abstract sealed class IncomingCall permits LocalIncomingCall, RpcConnection.NetworkCall {

    public abstract long interfaceId();

    public abstract int methodId();

    /**
     * The parameters, readable until the call is answered: a connection then reuses the message they are
     * in (values to keep longer are copied out, as the codecs do).
     */
    public abstract StructIn params();

    /**
     * The capability at {@code index} of the parameters' table, valid until the call is answered (null
     * for none). {@link Capability#dup()} it to keep it longer.
     */
    public abstract Capability paramCap(int index);

    /** The connection the call came from; null for a call from this process. */
    public abstract RpcConnection connection();

    /**
     * Starts the results; call once, then fill it and {@link #returnResults()}. {@code sizeHint} is what they
     * need beyond their struct, in bytes, as for {@link Capability#newCall}. The results are not to be touched
     * after they are returned: the connection reuses the message once it is written and finished.
     */
    public abstract StructOut initResults(int dataWords, int pointerCount, int sizeHint);

    /** Adds {@code cap} to the results' table; the call takes its own handle. */
    public abstract int addResultCap(Capability cap);

    public abstract void returnResults();

    /** Answers with an exception: its reason names the exception's class and message. */
    public abstract void returnException(Throwable error);

    /** True once the caller has given up on the answer (it sent Finish, or disconnected). */
    public abstract boolean isCanceled();

    /** Runs {@code action} if the call is canceled before it is answered (at once if it already was). */
    public abstract void onCancel(Runnable action);

    /** The exception for {@code error} as the wire carries it. */
    static RpcException toRpc(Throwable error) {
        if (error instanceof RpcException rpc) return rpc;
        String message = error.getMessage();
        return new RpcException(RpcException.Type.FAILED,
                message == null ? error.getClass().getName() : error.getClass().getName() + ": " + message);
    }
}
