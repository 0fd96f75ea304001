package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;

/**
 * What a thread is doing while it serves a call from a connection: calls it makes back over that connection
 * go to the caller's {@code callbackThread}, so they run on the client thread that is waiting.
 */
abstract class CallContext {

    private static final ThreadLocal<CallContext> CURRENT = new ThreadLocal<>();

    /** The connection the call came from (null for a call from this process). */
    abstract MpConnection connection();

    /** The caller's callback thread, or null. */
    abstract Capability callbackThread();

    static CallContext current() {
        return CURRENT.get();
    }

    static CallContext enter(CallContext context) {
        CallContext previous = CURRENT.get();
        CURRENT.set(context);
        return previous;
    }

    static void leave(CallContext previous) {
        CURRENT.set(previous);
    }
}
