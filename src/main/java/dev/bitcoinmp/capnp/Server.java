package dev.bitcoinmp.capnp;

/**
 * An object hosted in this process that receives calls: what a capability exported to a peer points at.
 */
public interface Server {

    /**
     * Handles one call. Called on the connection's reader thread: return quickly, or hand the call to
     * another thread; the call is answered when {@link IncomingCall#returnResults()} or
     * {@link IncomingCall#returnException} is called, from any thread.
     */
    void dispatch(IncomingCall call);

    /**
     * The last reference a connection held was released, or the connection ended.
     * {@code owned} is true when the object reached the peer as a call's result (the peer owned it).
     */
    default void released(boolean owned) {}
}
