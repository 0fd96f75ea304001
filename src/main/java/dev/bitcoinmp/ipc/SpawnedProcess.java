package dev.bitcoinmp.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalInt;

/**
 * A child process started with posix_spawn that inherits one descriptor, and that this class reaps.
 *
 * <p>Unlike {@link ProcessBuilder}, the child keeps a chosen descriptor under its own number (Core passes
 * it as {@code -ipcfd N}). The JVM's own reaper only waits for {@link Process} children, so nothing else
 * reaps this one: call {@link #waitFor()} or the child stays a zombie.
 */
public final class SpawnedProcess {
    private final int pid;
    /** Guards reaping against kill(): once reaped the pid may belong to someone else. */
    private final Object lock = new Object();
    private boolean reaped;
    private int status;

    private SpawnedProcess(int pid) {
        this.pid = pid;
    }

    /**
     * Starts {@code argv}, with descriptor {@code inheritFd} open in the child under the same number and
     * every other descriptor from 3 up closed; stdin, stdout and stderr are shared with this process.
     * {@code argv[0]} is run as a path if it contains a '/', else it is looked up on PATH.
     *
     * @throws IOException if the program cannot be started (not found, not executable), naming it
     */
    public static SpawnedProcess spawn(List<String> argv, int inheritFd) throws IOException {
        if (argv.isEmpty()) throw new IllegalArgumentException("empty argv");
        if (inheritFd < 3) throw new IllegalArgumentException("inherited descriptor must be >= 3, got " + inheritFd);
        String program = argv.get(0);
        // Everything the child needs is allocated here, before the spawn: nothing allocates in the child.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment args = arena.allocate(ADDRESS, argv.size() + 1);
            for (int i = 0; i < argv.size(); i++) {
                args.setAtIndex(ADDRESS, i, arena.allocateFrom(argv.get(i)));
            }
            args.setAtIndex(ADDRESS, argv.size(), MemorySegment.NULL);
            MemorySegment actions = Posix.fileActionsInit(arena);
            try {
                for (int fd = 3; fd < inheritFd; fd++) Posix.fileActionsAddClose(actions, fd);
                // dup2(fd, fd) only clears close-on-exec: the child keeps the number.
                Posix.fileActionsAddDup2(actions, inheritFd, inheritFd);
                Posix.fileActionsAddCloseFrom(actions, inheritFd + 1);
                boolean search = !program.contains("/");
                return new SpawnedProcess(Posix.spawn(search, args.getAtIndex(ADDRESS, 0), actions, args, program));
            } finally {
                Posix.fileActionsDestroy(actions);
            }
        }
    }

    public int pid() {
        return pid;
    }

    /** Blocks until the child ends and returns its raw wait status; later calls return the same status. */
    public int waitFor() throws IOException {
        while (true) {
            synchronized (lock) {
                if (reaped) return status;
            }
            // Wait outside the lock, without reaping, so kill() and tryWait() stay usable meanwhile.
            try {
                Posix.awaitExit(pid);
            } catch (IOException e) {
                // ECHILD: another thread reaped it between our check and the wait; the loop picks it up.
                synchronized (lock) {
                    if (!reaped) throw e;
                }
            }
            tryWait();
        }
    }

    /** The raw wait status if the child has ended (reaping it), else empty; never blocks. */
    public OptionalInt tryWait() throws IOException {
        synchronized (lock) {
            if (!reaped) {
                int s = Posix.waitpid(pid, Posix.WNOHANG);
                if (s == -1) return OptionalInt.empty();
                status = s;
                reaped = true;
            }
            return OptionalInt.of(status);
        }
    }

    /** Sends {@code signal} to the child; does nothing once it has been reaped. */
    public void kill(int signal) throws IOException {
        synchronized (lock) {
            if (!reaped) Posix.kill(pid, signal);
        }
    }

    /** True if the status is a normal exit (WIFEXITED). */
    public static boolean exited(int status) {
        return (status & 0x7f) == 0;
    }

    /** The exit code (WEXITSTATUS) of a normal exit, or -1 if it was not one. */
    public static int exitCode(int status) {
        return exited(status) ? (status >> 8) & 0xff : -1;
    }

    /** True if a signal ended the child (WIFSIGNALED). */
    public static boolean signaled(int status) {
        int low = status & 0x7f;
        return low != 0 && low != 0x7f; // 0x7f marks a stopped child

    }

    /** The signal that ended the child (WTERMSIG), or -1 if none did. */
    public static int termSignal(int status) {
        return signaled(status) ? status & 0x7f : -1;
    }

    @Override
    public String toString() {
        return "SpawnedProcess[pid=" + pid + "]";
    }
}
