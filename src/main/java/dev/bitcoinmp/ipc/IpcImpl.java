package dev.bitcoinmp.ipc;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Ipc;
import dev.bitcoinmp.mp.MpConnection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Consumer;

/** Core's {@code IpcImpl}: spawns siblings over socketpairs and reaps them when their connection ends. */
public final class IpcImpl implements Ipc {

    private final String argv0;
    private final Protocol protocol;
    private final Consumer<String> ipcLog;   // -debug=ipc lines; null when that category is off

    public IpcImpl(String argv0, String exeName, Consumer<String> ipcLog) {
        this.argv0 = argv0;
        this.protocol = new Protocol(exeName);
        this.ipcLog = ipcLog;
    }

    @Override
    public Init spawnProcess(String exeName) {
        IpcProcess.Spawned spawned;
        try {
            spawned = IpcProcess.spawn(argv0, exeName);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + exeName + ": " + e.getMessage(), e);
        }
        SpawnedProcess child = spawned.process();
        if (ipcLog != null) ipcLog.accept("Process " + exeName + " pid " + child.pid() + " launched");
        Init init;
        try {
            init = protocol.connect(spawned.stream(), exeName + "-" + child.pid());
        } catch (RuntimeException e) {
            try {
                child.kill(9);
            } catch (IOException ignored) {
                // Already gone: reaping below is all that is left to do.
            }
            reap(exeName, child);
            throw e;
        }
        addCleanup(init, () -> reap(exeName, child));
        return init;
    }

    private void reap(String exeName, SpawnedProcess child) {
        try {
            int status = IpcProcess.waitSpawned(child);
            if (ipcLog != null) ipcLog.accept("Process " + exeName + " pid " + child.pid() + " exited with status " + status);
        } catch (IOException e) {
            throw new RpcException(RpcException.Type.FAILED, "waiting for " + exeName + " failed: " + e.getMessage());
        }
    }

    @Override
    public void addCleanup(Object proxy, Runnable cleanup) {
        MpConnection.of(proxy).addCleanup(cleanup);
    }
}
