package dev.bitcoinmp.node;

import sun.misc.Signal;

/** SIGTERM and SIGINT start the same clean shutdown as the {@code stop} RPC, which then exits 0 (as Core). */
final class Signals {
    private Signals() {}

    static void onTermOrInt(Runnable shutdown) {
        Signal.handle(new Signal("TERM"), signal -> shutdown.run());
        Signal.handle(new Signal("INT"), signal -> shutdown.run());
    }
}
