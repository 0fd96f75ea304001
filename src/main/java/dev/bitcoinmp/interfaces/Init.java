package dev.bitcoinmp.interfaces;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;
import dev.bitcoinmp.mp.ThreadMap;

/**
 * The first object a process serves: what a parent, or a client of its socket, asks for everything else.
 * Closing a proxy of it ends the connection.
 */
@CapnpInterface(id = 0x8838c700ba5cba65L)
public interface Init extends AutoCloseable {

    /** libmultiprocess' handshake; the IPC layer answers it, implementations never see it. */
    @CapnpMethod(ordinal = 0, context = false, result = "threadMap")
    default ThreadMap construct(ThreadMap threadMap) {
        throw new IllegalStateException("construct is answered by the IPC layer");
    }

    @CapnpMethod(ordinal = 1)
    Echo makeEcho();

    /** Kept for Core's ordinals; Core's nodes fail it too. */
    @CapnpMethod(ordinal = 2, context = false)
    default void makeMiningOld2() {
        throw new IllegalStateException("makeMiningOld2 is no longer served; use makeMining");
    }

    @CapnpMethod(ordinal = 3)
    default Mining makeMining() {
        throw new IllegalStateException("this node serves no mining interface");
    }

    @CapnpMethod(ordinal = 4)
    default Rpc makeRpc() {
        throw new IllegalStateException("this process serves no RPC interface");
    }

    @Override
    default void close() {}
}
