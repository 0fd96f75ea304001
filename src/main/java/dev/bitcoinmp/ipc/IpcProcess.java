package dev.bitcoinmp.ipc;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

/**
 * The OS side of IPC, as Core's {@code ipc::Process}: spawn a sibling executable with one end of a socketpair,
 * wait for it, and recognise the spawned side by its {@code -ipcfd N} arguments.
 */
public final class IpcProcess {
    private IpcProcess() {}

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
}
