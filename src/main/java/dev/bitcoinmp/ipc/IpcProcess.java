package dev.bitcoinmp.ipc;

import dev.bitcoinmp.capnp.ChannelStream;
import dev.bitcoinmp.capnp.Stream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The OS side of IPC, as Core's {@code ipc::Process}: spawn a sibling executable with one end of a socketpair,
 * wait for it, and recognise the spawned side by its {@code -ipcfd N} arguments; bind and connect unix sockets.
 */
public final class IpcProcess {
    private IpcProcess() {}

    /** Core's listen backlog for IPC sockets. */
    static final int BACKLOG = 5;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final Set<PosixFilePermission> OWNER_RW = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_RWX = PosixFilePermissions.fromString("rwx------");
    /** umask is per process: binds that change it take turns. */
    private static final Object UMASK_LOCK = new Object();

    /** A spawned child and the parent's end of the socketpair that connects them. */
    public record Spawned(SpawnedProcess process, FdStream stream) {}

    /**
     * Spawns {@code <directory of argv0>/<exeName> -ipcfd N} (or {@code exeName} on PATH when argv0 has no
     * directory), passing it only descriptor N, one end of a new socketpair; returns the child and our end.
     */
    public static Spawned spawn(String argv0, String exeName) throws IOException {
        FdStream[] pair = FdStream.socketPair();
        FdStream childEnd = pair[1];
        try {
            String fd = Integer.toString(childEnd.fd());
            List<String> argv = List.of(siblingPath(argv0, exeName), "-ipcfd", fd);   // built before the spawn
            SpawnedProcess process = SpawnedProcess.spawn(argv, childEnd.fd());
            return new Spawned(process, pair[0]);
        } catch (IOException | RuntimeException e) {
            pair[0].close();
            throw e;
        } finally {
            childEnd.close();   // the child has its own copy now
        }
    }

    /** Where a sibling executable is: next to argv0 as invoked (no symlink resolution), like Core. */
    static String siblingPath(String argv0, String exeName) {
        Path invoked = Path.of(argv0);
        Path dir = invoked.getParent();
        return dir == null ? exeName : dir.resolve(exeName).toString();
    }

    /** Waits for a spawned child; returns its raw wait status (0 for a clean exit). */
    public static int waitSpawned(SpawnedProcess process) throws IOException {
        return process.waitFor();
    }

    /**
     * The descriptor to serve on when {@code args} (argv without argv[0]) are exactly {@code -ipcfd N}; empty
     * for any other command line. N must be a plain non-negative decimal number.
     *
     * @throws IllegalArgumentException {@code Invalid -ipcfd number '<arg>'} for a malformed N
     */
    public static OptionalInt checkSpawned(String[] args) {
        if (args.length != 2 || !args[0].equals("-ipcfd")) return OptionalInt.empty();
        String n = args[1];
        boolean digits = !n.isEmpty() && n.length() <= 9 && n.chars().allMatch(c -> c >= '0' && c <= '9');
        if (!digits) throw new IllegalArgumentException("Invalid -ipcfd number '" + n + "'");
        return OptionalInt.of(Integer.parseInt(n));
    }

    /**
     * A listening socket at {@code address}, as Core's {@code Process::bind}: missing parent directories are
     * created owner-only, a socket file left by an earlier run is replaced (never any other file, nor a socket
     * some process still listens on), and the socket is created owner-only (0600) with no moment at which it is
     * more open. The caller removes the file when it stops listening.
     *
     * @throws IOException saying what was in the way, in one line
     */
    public static ServerSocketChannel bind(UnixAddress address) throws IOException {
        Path path = address.path();
        Path parent = path.getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            try {
                Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(OWNER_RWX));
            } catch (IOException e) {
                throw new IOException("Cannot create directory " + parent + ": " + reason(e), e);
            }
        }
        removeStaleSocket(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        boolean bound = false;
        try {
            synchronized (UMASK_LOCK) {
                int previous = Posix.umask(0077);
                try {
                    server.bind(UnixDomainSocketAddress.of(path), BACKLOG);
                    bound = true;
                } finally {
                    Posix.umask(previous);
                }
            }
            Files.setPosixFilePermissions(path, OWNER_RW);
            return server;
        } catch (IOException | RuntimeException e) {
            server.close();
            if (bound) Files.deleteIfExists(path);
            if (e instanceof IOException io) throw new IOException(reason(io), io);
            throw e;
        }
    }

    /** A stream connected to the socket at {@code address}, as Core's {@code Process::connect}. */
    public static Stream connect(UnixAddress address) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(address.path()));
            return new ChannelStream(channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            if (e instanceof IOException io) throw new IOException(reason(io), io);
            throw e;
        }
    }

    private static void removeStaleSocket(Path path) throws IOException {
        int mode;
        try {
            mode = (int) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException(path + " exists and is not a socket; remove it or choose another path");
        }
        if (someoneListens(path)) throw new IOException("another process is listening on " + path);
        // Nobody does: a socket file left behind by a process that did not remove it.
        Files.deleteIfExists(path);
    }

    private static boolean someoneListens(Path path) {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** What went wrong, without Java's class names: "Permission denied", "Connection refused". */
    static String reason(IOException e) {
        if (e instanceof AccessDeniedException) return "Permission denied";
        if (e instanceof NoSuchFileException) return "No such file or directory";
        if (e instanceof FileAlreadyExistsException) return "File exists";
        if (e instanceof NotDirectoryException) return "Not a directory";
        if (e instanceof FileSystemException fs && fs.getReason() != null) return fs.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
