package dev.bitcoinmp.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class SpawnedProcessTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    @Test
    void childTalksOverTheInheritedDescriptor() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream parent = pair[0]) {
            int n = pair[1].fd();
            // bash, not sh: dash cannot redirect descriptors above 9, and a JVM's are usually higher.
            SpawnedProcess child = SpawnedProcess.spawn(
                    List.of("/bin/bash", "-c", "read line <&" + n + "; echo got:$line >&" + n), n);
            // Closing our copy of the child's end must not end the child's connection (no shutdown).
            pair[1].close();
            assertEquals(Posix.FD_CLOEXEC, Posix.getFdFlags(parent.fd()) & Posix.FD_CLOEXEC);
            assertTimeoutPreemptively(BOUND, () -> {
                parent.write(new ByteBuffer[] {ByteBuffer.wrap("hi\n".getBytes(StandardCharsets.UTF_8))}, 1);
                assertEquals("got:hi\n", readAll(parent));
                assertEquals(0, child.waitFor());
            });
        }
    }

    /** adddup2(N, N) cleared close-on-exec on N in the child only; everything else from 3 up is closed. */
    @Test
    void childHasOnlyStdioAndTheInheritedDescriptor() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream parent = pair[0]; FdStream childEnd = pair[1]) {
            int n = childEnd.fd();
            // bash, not sh: dash cannot redirect descriptors above 9, and a JVM's are usually higher.
            SpawnedProcess child = SpawnedProcess.spawn(List.of("sleep", "30"), n);
            try {
                // posix_spawn returns after the exec; the program may still open a file or two while it
                // starts (sleep reads its locale), but an inherited descriptor would stay: wait for quiet.
                Set<Integer> fds = childFds(child);
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (!fds.equals(Set.of(0, 1, 2, n)) && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                    fds = childFds(child);
                }
                assertEquals(Set.of(0, 1, 2, n), fds);
                assertEquals(Files.readSymbolicLink(Path.of("/proc/self/fd/" + n)),
                        Files.readSymbolicLink(Path.of("/proc/" + child.pid() + "/fd/" + n)));
                assertEquals(Posix.FD_CLOEXEC, Posix.getFdFlags(n) & Posix.FD_CLOEXEC, "unchanged in the parent");
            } finally {
                child.kill(Posix.SIGKILL);
                child.waitFor();
            }
        }
    }

    @Test
    void waitStatuses() throws Exception {
        assertTimeoutPreemptively(BOUND, () -> {
            int ok = spawn("true").waitFor();
            assertEquals(0, ok);
            assertTrue(SpawnedProcess.exited(ok));
            assertEquals(0, SpawnedProcess.exitCode(ok));

            int three = spawn("/bin/sh", "-c", "exit 3").waitFor();
            assertTrue(SpawnedProcess.exited(three));
            assertEquals(3, SpawnedProcess.exitCode(three));
            assertFalse(SpawnedProcess.signaled(three));

            SpawnedProcess sleeper = spawn("sleep", "30");
            assertTrue(sleeper.tryWait().isEmpty());
            sleeper.kill(Posix.SIGKILL);
            int killed = sleeper.waitFor();
            assertTrue(SpawnedProcess.signaled(killed));
            assertEquals(9, SpawnedProcess.termSignal(killed));
            assertEquals(-1, SpawnedProcess.exitCode(killed));
            // Reaped: the status is cached, and kill no longer touches a pid that may be reused.
            assertEquals(killed, sleeper.waitFor());
            assertEquals(killed, sleeper.tryWait().getAsInt());
            sleeper.kill(Posix.SIGKILL);
        });
    }

    @Test
    void concurrentWaitersGetTheSameStatus() throws Exception {
        assertTimeoutPreemptively(BOUND, () -> {
            SpawnedProcess child = spawn("/bin/sh", "-c", "sleep 0.2; exit 7");
            Future<Integer> other = FdStreamTest.async(child::waitFor);
            Future<Integer> third = FdStreamTest.async(() -> {
                while (child.tryWait().isEmpty()) Thread.sleep(5);
                return child.tryWait().getAsInt();
            });
            int status = child.waitFor();
            assertEquals(7, SpawnedProcess.exitCode(status));
            assertEquals(status, other.get());
            assertEquals(status, third.get());
        });
    }

    @Test
    void missingProgramIsNamed() {
        IOException onPath = assertThrows(IOException.class, () -> spawn("no-such-program-bitcoinmp"));
        assertTrue(onPath.getMessage().contains("no-such-program-bitcoinmp"), onPath.getMessage());
        assertTrue(onPath.getMessage().contains("ENOENT"), onPath.getMessage());
        IOException byPath = assertThrows(IOException.class, () -> spawn("/nonexistent/bitcoin-node"));
        assertTrue(byPath.getMessage().contains("/nonexistent/bitcoin-node"), byPath.getMessage());
    }

    @Test
    void noDescriptorLeaks() throws Exception {
        spawn("true").waitFor();
        long before = FdStreamTest.openDescriptors();
        for (int i = 0; i < 50; i++) {
            FdStream[] pair = FdStream.socketPair();
            // bash, not sh: dash cannot redirect descriptors above 9, and a JVM's are usually higher.
            SpawnedProcess child = SpawnedProcess.spawn(List.of("true"), pair[1].fd());
            pair[1].close();
            assertEquals(0, child.waitFor());
            pair[0].close();
        }
        assertEquals(before, FdStreamTest.openDescriptors());
    }

    /** Spawns with a throwaway socket as the inherited descriptor, closed again right away. */
    private static SpawnedProcess spawn(String... argv) throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream a = pair[0]; FdStream b = pair[1]) {
            return SpawnedProcess.spawn(List.of(argv), b.fd());
        }
    }

    private static String readAll(FdStream stream) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(4096);
        while (stream.read(dst) > 0) {
            // the child's end closes when it exits
        }
        return new String(dst.array(), 0, dst.position(), StandardCharsets.UTF_8);
    }

    private static Set<Integer> childFds(SpawnedProcess child) throws java.io.IOException {
        try (Stream<Path> list = Files.list(Path.of("/proc/" + child.pid() + "/fd"))) {
            return list.map(p -> Integer.parseInt(p.getFileName().toString()))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }
}
