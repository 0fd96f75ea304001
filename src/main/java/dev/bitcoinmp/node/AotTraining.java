package dev.bitcoinmp.node;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.IpcImpl;

/**
 * The build's training run for the spawned child's AOT cache: spawns {@code bitcoin-node -ipcfd N} once (the
 * build passes {@code -XX:AOTCacheOutput} to that child through {@code BITCOINMP_JAVA_OPTIONS}) and makes the
 * calls {@code echoipc} makes, so that the cache holds what a child loads.
 *
 * <p>Argument: the path of the {@code bitcoin-node} launcher.
 */
public final class AotTraining {
    private AotTraining() {}

    public static void main(String[] args) {
        IpcImpl ipc = new IpcImpl(args[0], "bitcoin-node", null);
        try (Init init = ipc.spawnProcess("bitcoin-node"); Echo echo = init.makeEcho()) {
            if (!echo.echo("training").equals("training")) throw new IllegalStateException("echo failed");
        }
    }
}
