package dev.bitcoinmp.mp;

/** Something that runs calls for one connection: a server thread, a pool thread, a waiting client thread. */
interface ThreadTarget {
    MpConnection connection();

    void execute(Runnable task);
}
