package dev.bitcoinmp.ipc;

import dev.bitcoinmp.capnp.ChannelStream;
import dev.bitcoinmp.capnp.RpcConnection;
import dev.bitcoinmp.capnp.Stream;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.mp.MpConnection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Serves an {@link Init} to every client of one or more unix sockets (Core's {@code Protocol::listen} and
 * {@code disconnectIncoming}): each connection has its own reader thread and the server threads its client
 * makes; at most {@code maxConnections} at a time, further ones are told why and closed. {@link #close()} stops
 * listening, removes the socket files and drops every connection, so that no client can hold up a shutdown.
 */
public final class IpcListener implements AutoCloseable {

    /** Reason sent (in an Abort) to clients beyond the limit, and to every client at shutdown. */
    static final String SHUTTING_DOWN = "node is shutting down";
    /** How long {@link #close()} waits for all connections to end; a connection needs at most ~1.5 s. */
    private static final long DROP_TIMEOUT_MILLIS = 5_000;

    private final Protocol protocol;
    private final Init init;
    private final int maxConnections;
    private final Consumer<String> info;
    private final Consumer<String> ipcDebug;   // null when -debug=ipc is off

    private final List<Socket> sockets = new ArrayList<>();
    private final Set<MpConnection> connections = new LinkedHashSet<>();
    private int accepted;
    private boolean closed;

    /** One bound socket and the thread accepting on it. */
    private record Socket(UnixAddress address, ServerSocketChannel channel, Object fileKey, Thread acceptor) {}

    public IpcListener(Protocol protocol, Init init, int maxConnections, Consumer<String> info, Consumer<String> ipcDebug) {
        if (maxConnections < 1) throw new IllegalArgumentException("maxConnections must be at least 1, got " + maxConnections);
        this.protocol = protocol;
        this.init = init;
        this.maxConnections = maxConnections;
        this.info = info;
        this.ipcDebug = ipcDebug;
    }

    /**
     * Listens on {@code address} (see {@link UnixAddress}) and returns its canonical form. Listening again on a
     * path already listened on is a no-op.
     *
     * @throws IllegalArgumentException for an address that is not a unix one, or a path that is too long
     * @throws IOException when the socket cannot be bound, saying why
     */
    public String listen(Path dataDir, String address) throws IOException {
        UnixAddress unix = UnixAddress.parse(address, dataDir);
        synchronized (this) {
            if (closed) throw new IOException("the IPC listener is closed");
            for (Socket socket : sockets) if (socket.address().equals(unix)) return unix.canonical();
            ServerSocketChannel channel = IpcProcess.bind(unix);
            Object fileKey = fileKey(unix.path());
            Thread acceptor = Thread.ofPlatform().daemon().name("ipc-accept-" + unix.path().getFileName())
                    .unstarted(() -> acceptLoop(channel));
            Socket socket = new Socket(unix, channel, fileKey, acceptor);
            sockets.add(socket);
            socket.acceptor().start();
        }
        return unix.canonical();
    }

    /** Connections being served now. */
    public synchronized int connectionCount() {
        return connections.size();
    }

    private void acceptLoop(ServerSocketChannel server) {
        while (true) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                return;   // close() closed the socket
            } catch (IOException e) {
                synchronized (this) {
                    if (closed) return;
                }
                // EMFILE, say: refuse nothing silently, and do not spin while it lasts.
                info.accept("IPC server: accepting a connection failed: " + IpcProcess.reason(e));
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    return;
                }
                continue;
            }
            admit(client);
        }
    }

    private void admit(SocketChannel client) {
        ChannelStream stream;
        try {
            stream = new ChannelStream(client);
        } catch (IOException e) {
            closeQuietly(client);
            return;
        }
        String refusal;
        String name;
        synchronized (this) {
            if (closed) {
                refusal = SHUTTING_DOWN;
            } else if (connections.size() >= maxConnections) {
                refusal = "too many IPC connections (-ipcmaxconnections=" + maxConnections + ")";
            } else {
                refusal = null;
            }
            name = "ipc-" + (++accepted);
        }
        if (refusal != null) {
            info.accept("IPC server: connection refused: " + refusal);
            // Not started: nothing is read; the Abort is written, and the client let finish writing what it
            // pipelined, so that it reads the Abort instead of failing on a closed socket. Off the accept thread.
            Thread.ofVirtual().name("ipc-refuse-" + name)
                    .start(() -> new RpcConnection(new LingeringStream(client, stream), null, name).abort(refusal));
            return;
        }
        MpConnection connection = protocol.serveInBackground(stream, init, name);
        synchronized (this) {
            connections.add(connection);
        }
        if (ipcDebug != null) ipcDebug.accept("IPC server: socket connected.");
        connection.addCleanup(() -> ended(connection));
        boolean missedByClose;
        synchronized (this) {
            // close() may have run between the admission and the add: it did not see this connection.
            missedByClose = closed;
        }
        if (missedByClose) connection.rpc().abort(SHUTTING_DOWN);
    }

    private void ended(MpConnection connection) {
        synchronized (this) {
            connections.remove(connection);
        }
        if (ipcDebug != null) ipcDebug.accept("IPC server: socket disconnected.");
    }

    /**
     * Stops listening, removes the socket files (unless something else has replaced them) and drops every
     * connection: running calls are canceled and their clients see an Abort. Returns once all connections
     * have ended, or after a few seconds for ones whose clients do not read.
     */
    @Override
    public void close() {
        List<Socket> bound;
        List<MpConnection> open;
        synchronized (this) {
            if (closed) return;
            closed = true;
            bound = List.copyOf(sockets);
            open = List.copyOf(connections);
        }
        for (Socket socket : bound) {
            closeQuietly(socket.channel());
            try {
                socket.acceptor().join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            removeSocketFile(socket);
        }
        // In parallel: a client that does not read holds its connection's last write for up to ~1.5 s.
        List<Thread> drops = new ArrayList<>();
        for (MpConnection connection : open) {
            drops.add(Thread.ofPlatform().daemon().name("ipc-drop-" + connection.rpc().name())
                    .start(() -> connection.rpc().abort(SHUTTING_DOWN)));
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DROP_TIMEOUT_MILLIS);
        for (Thread drop : drops) {
            try {
                drop.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Deletes the socket file if it is still the one we bound (not one another process put there since). */
    private void removeSocketFile(Socket socket) {
        Path path = socket.address().path();
        try {
            Object now = fileKey(path);
            if (now != null && now.equals(socket.fileKey())) Files.delete(path);
        } catch (IOException e) {
            info.accept("Unable to remove IPC socket " + path + ": " + IpcProcess.reason(e));
        }
    }

    /** The file's identity (device and inode), or null when there is no file. */
    private static Object fileKey(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    /**
     * A stream whose close first ends our side of the socket, then reads and drops what the peer still sends
     * until it closes too (it has read everything we wrote) or {@link #LINGER_MILLIS} pass.
     */
    private static final class LingeringStream implements Stream {
        private static final long LINGER_MILLIS = 1_000;
        private final SocketChannel channel;
        private final ChannelStream stream;

        LingeringStream(SocketChannel channel, ChannelStream stream) {
            this.channel = channel;
            this.stream = stream;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return stream.read(dst);
        }

        @Override
        public void write(ByteBuffer[] srcs, int count) throws IOException {
            stream.write(srcs, count);
        }

        @Override
        public void close() throws IOException {
            try {
                channel.shutdownOutput();
                // A blocked read has no timeout: closing the channel from the timer ends it.
                CompletableFuture.delayedExecutor(LINGER_MILLIS, TimeUnit.MILLISECONDS).execute(() -> closeQuietly(stream));
                ByteBuffer sink = ByteBuffer.allocate(4096);
                while (stream.read(sink) >= 0) sink.clear();
            } catch (IOException ignored) {
                // The peer is gone already: nothing to wait for.
            } finally {
                stream.close();
            }
        }
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException ignored) {
            // Already broken: nothing more to release.
        }
    }
}
