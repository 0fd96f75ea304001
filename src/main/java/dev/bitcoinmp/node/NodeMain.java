package dev.bitcoinmp.node;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.ipc.IpcProcess;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.mp.InterfaceSchema;
import dev.bitcoinmp.mp.IpcThread;
import dev.bitcoinmp.mp.MpConnection;
import dev.bitcoinmp.mp.ThreadMap;
import java.io.IOException;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * Entry point of {@code bitcoind} and {@code bitcoin-node} (the launcher sets {@code bitcoinmp.exe} and passes
 * its own path, as invoked, in {@code bitcoinmp.argv0}). Spawned as {@code bitcoin-node -ipcfd N}, it serves
 * {@link NodeInit} on N and exits 0 when its parent goes away, loading nothing of the node (no HTTP, no JSON).
 */
public final class NodeMain {
    private NodeMain() {}

    public static void main(String[] args) {
        String exe = System.getProperty("bitcoinmp.exe", "bitcoind");
        boolean hasIpc = exe.equals("bitcoin-node");
        if (hasIpc) {
            OptionalInt fd;
            try {
                fd = IpcProcess.checkSpawned(args);
            } catch (IllegalArgumentException e) {
                System.err.println("Error: " + e.getMessage());
                System.exit(1);
                return;
            }
            if (fd.isPresent()) {
                serveParent(exe, fd.getAsInt());
                // The parent waits for this exit before it answers its caller: nothing is left to flush or run
                // (a child prints nothing and registers no shutdown hook), so end at once.
                Runtime.getRuntime().halt(0);
            }
        }
        int code;
        try {
            code = new Node(exe, hasIpc, System.getProperty("bitcoinmp.argv0", exe), args).run();
        } catch (StartupError e) {
            System.err.println(e.getMessage());
            code = 1;
        }
        System.exit(code);
    }

    private static void serveParent(String exe, int fd) {
        FdStream stream;
        try {
            stream = FdStream.inherited(fd);
        } catch (IOException e) {
            System.err.println("Error: -ipcfd " + fd + " is not an open descriptor: " + e.getMessage());
            System.exit(1);
            return;
        }
        MpConnection connection = new Protocol(exe).serveInBackground(stream, new NodeInit(), "parent");
        // While the connection's reader answers the parent's first calls, this thread, idle otherwise, prepares
        // what a parent asks for next (as echoipc does): the server thread of ThreadMap.makeThread and the schemas
        // of the interfaces it returns.
        connection.prestartThread();
        InterfaceSchema.of(ThreadMap.class);
        InterfaceSchema.of(IpcThread.class);
        InterfaceSchema.of(Echo.class);
        try {
            connection.awaitEnd(Long.MAX_VALUE, TimeUnit.DAYS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
