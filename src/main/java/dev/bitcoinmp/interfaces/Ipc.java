package dev.bitcoinmp.interfaces;

/** What application code uses to reach other processes (Core's {@code interfaces::Ipc}). */
public interface Ipc {

    /**
     * Spawns {@code exeName} next to this executable and returns its {@link Init}. Closing that proxy ends the
     * connection, and the child is reaped before close returns.
     */
    Init spawnProcess(String exeName);

    /**
     * Runs {@code cleanup} when {@code proxy}'s connection ends (it is closed, or the peer went away). Cleanups
     * of one connection run newest first.
     */
    void addCleanup(Object proxy, Runnable cleanup);
}
