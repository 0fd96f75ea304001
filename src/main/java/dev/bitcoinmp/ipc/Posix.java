package dev.bitcoinmp.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls the IPC layer needs, through java.lang.foreign (Linux, glibc >= 2.34, x86_64 and aarch64).
 *
 * <p>Calls that fail throw an IOException naming the call and the error ("write: Broken pipe (EPIPE)").
 * read, write, writev and the waits retry on EINTR. Constants are the Linux values, which are the same on
 * x86_64 and aarch64 (both use the generic errno and socket numbers).
 */
final class Posix {
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SHUT_RDWR = 2;
    static final int F_GETFD = 1;
    static final int F_SETFD = 2;
    static final int FD_CLOEXEC = 1;
    static final int WNOHANG = 1;
    static final int SIGKILL = 9;
    static final int SIGTERM = 15;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int MSG_DONTWAIT = 0x40;
    static final int ECHILD = 10;
    /** Most iovecs one writev takes (Linux UIO_MAXIOV). */
    static final int IOV_MAX = 1024;

    /** struct iovec { void *iov_base; size_t iov_len; } */
    static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    /** posix_spawn_file_actions_t is 80 bytes on glibc x86_64/aarch64; opaque to us, so leave room. */
    static final long FILE_ACTIONS_SIZE = 128;
    /** siginfo_t is 128 bytes on Linux; waitid only needs somewhere to write it. */
    private static final long SIGINFO_SIZE = 128;
    private static final int P_PID = 1;
    private static final int WEXITED = 4;
    private static final int WNOWAIT = 0x01000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // Downcall handles are linked lazily, a holder class per group: linking costs a few milliseconds per
    // signature, and a spawned child, which must start fast, only ever needs the descriptor I/O group.
    // fcntl is variadic: F_GETFD passes no third argument, F_SETFD passes an int after the fixed two.
    // The posix_spawn family returns an error number instead of setting errno.

    /** Handles for descriptor I/O: all a spawned child needs. */
    private static final class Io {
        static final MethodHandle READ = errnoCall("read", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle WRITE = errnoCall("write", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle WRITEV = errnoCall("writev", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle SHUTDOWN = errnoCall("shutdown", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle CLOSE = errnoCall("close", JAVA_INT, JAVA_INT);
    }

    /**
     * recv(2) without waiting, as a critical call that may write straight into a Java array: the JVM does not
     * reach a safepoint while it runs, which is harmless only because it never blocks (MSG_DONTWAIT).
     */
    private static final class CriticalIo {
        static final MethodHandle RECV_NOW = downcall("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
                CAPTURE_ERRNO, Linker.Option.critical(true));
    }

    /** Handles for descriptor flags. */
    private static final class Fd {
        static final MethodHandle FCNTL_GET = errnoCall("fcntl", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle FCNTL_SET = downcall("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE_ERRNO, Linker.Option.firstVariadicArg(2));
    }

    /** Handles for socketpair, spawning and reaping: only a parent needs these. */
    private static final class Proc {
        static final MethodHandle SOCKETPAIR = errnoCall("socketpair", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final MethodHandle WAITPID = errnoCall("waitpid", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle WAITID = errnoCall("waitid", JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle KILL = errnoCall("kill", JAVA_INT, JAVA_INT, JAVA_INT);
        static final MethodHandle SPAWN = downcall("posix_spawn",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle SPAWNP = downcall("posix_spawnp",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle FA_INIT = downcall("posix_spawn_file_actions_init",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle FA_DESTROY = downcall("posix_spawn_file_actions_destroy",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle FA_ADDCLOSE = downcall("posix_spawn_file_actions_addclose",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle FA_ADDDUP2 = downcall("posix_spawn_file_actions_adddup2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        static final MethodHandle FA_ADDCLOSEFROM = downcall("posix_spawn_file_actions_addclosefrom_np",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    /** Handles for process and thread ids. */
    private static final class Ids {
        static final MethodHandle GETPID = downcall("getpid", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle GETTID = downcall("gettid", FunctionDescriptor.of(JAVA_INT));
    }

    /** The handle for the file mode creation mask: only a node that binds a socket needs it. */
    private static final class Modes {
        static final MethodHandle UMASK = downcall("umask", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    /** Handles for error texts, linked on the first error. */
    private static final class Errors {
        static final MethodHandle STRERROR = downcall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        static final MethodHandle STRERRORNAME = downcall("strerrorname_np", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    /** glibc's `char **environ`: the environment the child inherits, as fork+exec would pass it. */
    private static final MemorySegment ENVIRON = LIBC.find("environ").orElseThrow()
            .reinterpret(ADDRESS.byteSize());

    /** One errno capture block per thread, so the hot read/write path allocates nothing. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private Posix() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static MethodHandle errnoCall(String name, MemoryLayout result, MemoryLayout... args) {
        return downcall(name, FunctionDescriptor.of(result, args), CAPTURE_ERRNO);
    }

    // ---- sockets and descriptors

    /** A connected pair of AF_UNIX stream sockets, both close-on-exec so no other child inherits them. */
    static int[] socketpair() throws IOException {
        MemorySegment capture = CAPTURE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int r;
            try {
                r = (int) Proc.SOCKETPAIR.invokeExact(capture, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r != 0) throw error("socketpair", capture);
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }
    }

    /** Reads up to {@code len} bytes into {@code buf}; 0 at end of stream. */
    static long read(int fd, MemorySegment buf, long len) throws IOException {
        MemorySegment capture = CAPTURE.get();
        while (true) {
            long n;
            try {
                n = (long) Io.READ.invokeExact(capture, fd, buf, len);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n >= 0) return n;
            if (errno(capture) != EINTR) throw error("read", capture);
        }
    }

    /**
     * Receives what is already there, up to {@code len} bytes, into {@code buf} (which may be a Java array's
     * segment: no copy through native memory) without waiting: the count, 0 at end of stream, or -1 when
     * nothing has arrived yet. Keep {@code len} moderate: the JVM waits for the copy to end before a GC.
     */
    static long recvNow(int fd, MemorySegment buf, long len) throws IOException {
        MemorySegment capture = CAPTURE.get();
        while (true) {
            long n;
            try {
                n = (long) CriticalIo.RECV_NOW.invokeExact(capture, fd, buf, len, MSG_DONTWAIT);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n >= 0) return n;
            int errno = errno(capture);
            if (errno == EAGAIN) return -1;
            if (errno != EINTR) throw error("recv", capture);
        }
    }

    /** Writes up to {@code len} bytes from {@code buf}; returns how many were written. */
    static long write(int fd, MemorySegment buf, long len) throws IOException {
        MemorySegment capture = CAPTURE.get();
        while (true) {
            long n;
            try {
                n = (long) Io.WRITE.invokeExact(capture, fd, buf, len);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n >= 0) return n;
            if (errno(capture) != EINTR) throw error("write", capture);
        }
    }

    /** Writes from {@code count} {@link #IOVEC}s at {@code iov}; returns how many bytes were written. */
    static long writev(int fd, MemorySegment iov, int count) throws IOException {
        MemorySegment capture = CAPTURE.get();
        while (true) {
            long n;
            try {
                n = (long) Io.WRITEV.invokeExact(capture, fd, iov, count);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (n >= 0) return n;
            if (errno(capture) != EINTR) throw error("writev", capture);
        }
    }

    static void shutdown(int fd, int how) throws IOException {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = (int) Io.SHUTDOWN.invokeExact(capture, fd, how);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) throw error("shutdown", capture);
    }

    /** Closes {@code fd}. EINTR is not retried: Linux has released the descriptor anyway, and it may be reused. */
    static void close(int fd) throws IOException {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = (int) Io.CLOSE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0 && errno(capture) != EINTR) throw error("close", capture);
    }

    /** The descriptor flags (FD_CLOEXEC). */
    static int getFdFlags(int fd) throws IOException {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = (int) Fd.FCNTL_GET.invokeExact(capture, fd, F_GETFD);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) throw error("fcntl(F_GETFD)", capture);
        return r;
    }

    static void setFdFlags(int fd, int flags) throws IOException {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = (int) Fd.FCNTL_SET.invokeExact(capture, fd, F_SETFD, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) throw error("fcntl(F_SETFD)", capture);
    }

    // ---- processes

    /** Allocates and initialises a posix_spawn_file_actions_t; pair with {@link #fileActionsDestroy}. */
    static MemorySegment fileActionsInit(Arena arena) throws IOException {
        MemorySegment fa = arena.allocate(FILE_ACTIONS_SIZE, 16);
        check("posix_spawn_file_actions_init", call(Proc.FA_INIT, fa));
        return fa;
    }

    static void fileActionsDestroy(MemorySegment fa) throws IOException {
        check("posix_spawn_file_actions_destroy", call(Proc.FA_DESTROY, fa));
    }

    static void fileActionsAddClose(MemorySegment fa, int fd) throws IOException {
        check("posix_spawn_file_actions_addclose", call(Proc.FA_ADDCLOSE, fa, fd));
    }

    /** With fd == newFd, glibc >= 2.29 clears FD_CLOEXEC on fd in the child instead of duplicating. */
    static void fileActionsAddDup2(MemorySegment fa, int fd, int newFd) throws IOException {
        check("posix_spawn_file_actions_adddup2", call(Proc.FA_ADDDUP2, fa, fd, newFd));
    }

    static void fileActionsAddCloseFrom(MemorySegment fa, int from) throws IOException {
        check("posix_spawn_file_actions_addclosefrom_np", call(Proc.FA_ADDCLOSEFROM, fa, from));
    }

    /**
     * Starts {@code path} with the current environment; {@code search} looks it up on PATH (posix_spawnp).
     * {@code argv} is a NULL-terminated array of C strings. Returns the child's pid.
     */
    static int spawn(boolean search, MemorySegment path, MemorySegment fileActions, MemorySegment argv, String name)
            throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pid = arena.allocate(JAVA_INT);
            MemorySegment envp = ENVIRON.get(ADDRESS, 0);
            int r;
            try {
                r = (int) (search ? Proc.SPAWNP : Proc.SPAWN).invokeExact(pid, path, fileActions, MemorySegment.NULL, argv, envp);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r != 0) throw new IOException("Cannot run '" + name + "': " + describe(r));
            return pid.get(JAVA_INT, 0);
        }
    }

    /**
     * waitpid(pid, &status, options): the raw wait status once the child has ended and is reaped, or -1
     * when WNOHANG is given and it is still running.
     */
    static int waitpid(int pid, int options) throws IOException {
        MemorySegment capture = CAPTURE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(JAVA_INT);
            while (true) {
                int r;
                try {
                    r = (int) Proc.WAITPID.invokeExact(capture, pid, status, options);
                } catch (Throwable t) {
                    throw rethrow(t);
                }
                if (r > 0) return status.get(JAVA_INT, 0);
                if (r == 0) return -1;
                if (errno(capture) != EINTR) throw error("waitpid(" + pid + ")", capture);
            }
        }
    }

    /**
     * Blocks until child {@code pid} has ended but leaves it unreaped (waitid WNOWAIT), so its pid cannot be
     * reused while another thread may still signal it.
     */
    static void awaitExit(int pid) throws IOException {
        MemorySegment capture = CAPTURE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(SIGINFO_SIZE, 8);
            while (true) {
                int r;
                try {
                    r = (int) Proc.WAITID.invokeExact(capture, P_PID, pid, info, WEXITED | WNOWAIT);
                } catch (Throwable t) {
                    throw rethrow(t);
                }
                if (r == 0) return;
                if (errno(capture) != EINTR) throw error("waitid(" + pid + ")", capture);
            }
        }
    }

    static void kill(int pid, int signal) throws IOException {
        MemorySegment capture = CAPTURE.get();
        int r;
        try {
            r = (int) Proc.KILL.invokeExact(capture, pid, signal);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) throw error("kill(" + pid + ", " + signal + ")", capture);
    }

    static int getpid() {
        try {
            return (int) Ids.GETPID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets the process' file mode creation mask; returns the previous one. Never fails. */
    static int umask(int mask) {
        try {
            return (int) Modes.UMASK.invokeExact(mask);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The kernel thread id of the calling (carrier) thread, as Core logs it. */
    static int gettid() {
        try {
            return (int) Ids.GETTID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ---- errors

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static IOException error(String call, MemorySegment capture) {
        return new IOException(call + ": " + describe(errno(capture)));
    }

    /** "Broken pipe (EPIPE)": strerror's text plus the symbolic name, which is what people search for. */
    static String describe(int errno) {
        try {
            MemorySegment text = ((MemorySegment) Errors.STRERROR.invokeExact(errno)).reinterpret(Long.MAX_VALUE);
            MemorySegment name = (MemorySegment) Errors.STRERRORNAME.invokeExact(errno);
            String symbol = name.equals(MemorySegment.NULL) ? "errno " + errno : name.reinterpret(Long.MAX_VALUE).getString(0);
            return text.getString(0) + " (" + symbol + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static int call(MethodHandle h, MemorySegment a) {
        try {
            return (int) h.invokeExact(a);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static int call(MethodHandle h, MemorySegment a, int b) {
        try {
            return (int) h.invokeExact(a, b);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static int call(MethodHandle h, MemorySegment a, int b, int c) {
        try {
            return (int) h.invokeExact(a, b, c);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static void check(String call, int result) throws IOException {
        if (result != 0) throw new IOException(call + ": " + describe(result));
    }

    /** A downcall throws only what the JVM itself throws (errors); anything else is a bug here. */
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof Error e) throw e;
        if (t instanceof RuntimeException e) return e;
        throw new AssertionError(t);
    }
}
