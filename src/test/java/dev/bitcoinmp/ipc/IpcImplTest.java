package dev.bitcoinmp.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spawning a sibling as Core does: a real child JVM behind a {@code bitcoin-node} launcher script. */
class IpcImplTest {

    @TempDir
    static Path bin;

    @BeforeAll
    static void launcher() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String script = "#!/bin/sh\nexec '" + java + "' --enable-native-access=ALL-UNNAMED -Xshare:auto -XX:TieredStopAtLevel=1 -cp '"
                + System.getProperty("java.class.path") + "' " + TestChildMain.class.getName() + " \"$@\"\n";
        Path launcher = bin.resolve("bitcoin-node");
        Files.writeString(launcher, script);
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void checkSpawnedAcceptsOnlyTheExactForm() {
        assertEquals(OptionalInt.of(7), IpcProcess.checkSpawned(new String[] {"-ipcfd", "7"}));
        assertEquals(OptionalInt.of(0), IpcProcess.checkSpawned(new String[] {"-ipcfd", "0"}));
        assertEquals(OptionalInt.empty(), IpcProcess.checkSpawned(new String[] {}));
        assertEquals(OptionalInt.empty(), IpcProcess.checkSpawned(new String[] {"-ipcfd"}));
        assertEquals(OptionalInt.empty(), IpcProcess.checkSpawned(new String[] {"-ipcfd", "3", "-regtest"}));
        assertEquals(OptionalInt.empty(), IpcProcess.checkSpawned(new String[] {"-regtest", "-ipcfd", "3"}));
        assertEquals(OptionalInt.empty(), IpcProcess.checkSpawned(new String[] {"-ipcfd=3", "x"}));
        for (String bad : new String[] {"+3", "-3", "", "3x", "abc", " 3", "99999999999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> IpcProcess.checkSpawned(new String[] {"-ipcfd", bad}));
            assertEquals("Invalid -ipcfd number '" + bad + "'", e.getMessage());
        }
    }

    @Test
    void siblingIsFoundNextToTheInvokedPathNotItsTarget() throws Exception {
        assertEquals("/opt/bin/bitcoin-node", IpcProcess.siblingPath("/opt/bin/bitcoind", "bitcoin-node"));
        assertEquals("bin/bitcoin-node", IpcProcess.siblingPath("bin/bitcoind", "bitcoin-node"));
        assertEquals("bitcoin-node", IpcProcess.siblingPath("bitcoind", "bitcoin-node"));   // looked up on PATH
        // Through a symlink in another directory, as Core's argv[0]: the link's directory counts.
        Path other = Files.createTempDirectory("ipc-link");
        try {
            Path link = Files.createSymbolicLink(other.resolve("bitcoin-test"), bin.resolve("bitcoin-node"));
            assertEquals(other.resolve("bitcoin-node").toString(), IpcProcess.siblingPath(link.toString(), "bitcoin-node"));
        } finally {
            Files.deleteIfExists(other.resolve("bitcoin-test"));
            Files.deleteIfExists(other);
        }
    }

    @Test
    void spawnEchoAndReapWithLogLines() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            List<String> log = new CopyOnWriteArrayList<>();
            IpcImpl ipc = new IpcImpl(bin.resolve("bitcoin-test").toString(), "bitcoin-test", log::add);
            Init init = ipc.spawnProcess("bitcoin-node");
            try (Echo echo = init.makeEcho()) {
                assertEquals("hello", echo.echo("hello"));
            }
            init.close();
            assertEquals(2, log.size(), log.toString());
            Matcher launched = Pattern.compile("Process bitcoin-node pid (\\d+) launched").matcher(log.get(0));
            assertTrue(launched.matches(), log.get(0));
            assertEquals("Process bitcoin-node pid " + launched.group(1) + " exited with status 0", log.get(1));
            assertFalse(ProcessHandle.of(Long.parseLong(launched.group(1))).isPresent(), "child reaped");
        });
    }

    @Test
    void sixteenConcurrentSpawnsLeaveNothingBehind() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            IpcImpl ipc = new IpcImpl(bin.resolve("bitcoin-test").toString(), "bitcoin-test", null);
            // Warm-up, so that lazily started JVM threads do not count as leaks.
            try (Init init = ipc.spawnProcess("bitcoin-node"); Echo echo = init.makeEcho()) {
                echo.echo("warm");
            }
            long fds = openFds();
            int threads = Thread.activeCount();
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                String text = "call " + i;
                results.add(pool.submit(() -> {
                    try (Init init = ipc.spawnProcess("bitcoin-node"); Echo echo = init.makeEcho()) {
                        return echo.echo(text);
                    }
                }));
            }
            for (int i = 0; i < 16; i++) assertEquals("call " + i, results.get(i).get());
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, ProcessHandle.current().children().count(), "every child reaped");
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((openFds() != fds || Thread.activeCount() > threads) && System.nanoTime() < deadline) Thread.sleep(20);
            assertEquals(fds, openFds(), "descriptors");
            assertTrue(Thread.activeCount() <= threads, "threads: " + Thread.activeCount() + " > " + threads);
        });
    }

    @Test
    void childExitsWhenItsParentIsKilled() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            ProcessBuilder builder = new ProcessBuilder(bin.resolve("bitcoin-node").toString(), "parent", bin.toString());
            builder.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process parent = builder.start();
            String[] pids;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream()))) {
                pids = out.readLine().split(" ");
                long child = Long.parseLong(pids[1]);
                ProcessHandle childHandle = ProcessHandle.of(child).orElseThrow();
                parent.destroyForcibly();   // SIGKILL
                parent.waitFor();
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (running(child) && System.nanoTime() < deadline) Thread.sleep(10);
                assertFalse(running(child), "child " + child + " still running 2 s after its parent was killed");
                assertTrue(childHandle.onExit().isDone() || !running(child));
            } finally {
                parent.destroyForcibly();
            }
        });
    }

    /** Alive and not a zombie (an orphan may wait a while for init to reap it). */
    private static boolean running(long pid) throws Exception {
        Path stat = Path.of("/proc/" + pid + "/stat");
        if (!Files.exists(stat)) return false;
        try {
            String s = Files.readString(stat);
            return s.charAt(s.lastIndexOf(')') + 2) != 'Z';
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static long openFds() throws Exception {
        try (var list = Files.list(Path.of("/proc/self/fd"))) {
            return list.count();
        }
    }
}
