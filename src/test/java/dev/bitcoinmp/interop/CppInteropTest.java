package dev.bitcoinmp.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.ipc.SpawnedProcess;
import dev.bitcoinmp.mp.MpConnection;
import dev.bitcoinmp.testing.Calculator;
import dev.bitcoinmp.testing.Mixed;
import dev.bitcoinmp.testing.TestInit;
import dev.bitcoinmp.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java implementation against the C++ reference peer ({@code src/test/cpp/mp_peer.c++}) over a
 * socketpair whose other end the peer inherits, as a spawned child does: a Java client against the
 * C++ TestInit server ({@code serve-fd}), and the C++ client scenarios ({@code client-fd}) against
 * a Java TestInit server.
 */
class CppInteropTest {
    /** Bound on every single wait: a line of the peer, its exit, the end of a connection. */
    private static final Duration STEP = Duration.ofSeconds(10);
    /** Bound on a whole test. */
    private static final Duration TEST = Duration.ofSeconds(60);

    private static final String EXE = System.getProperty("bitcoinmp.exe", "java");
    private static final long PID = ProcessHandle.current().pid();

    @BeforeAll
    static void build() {
        CppPeer.assumeAvailable();
        CppPeer.binary();
    }

    // ==========================================================================================
    // A. Java client -> C++ server (mp_peer serve-fd N)

    /**
     * Bootstrap, construct, makeThread and makeEcho all go out before anything is read back: the
     * reads of our end are held back until connect() and makeEcho() have returned, so a step that
     * waited for a reply would stall until the gate gives up, and that is detected. Then echoes.
     */
    @Test
    void javaClientPipelinesSetupAndEchoes(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        RecordingStream ours = new RecordingStream(pair[0], true);
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                Thread me = Thread.currentThread();
                TestInit init = MpConnection.connect(ours, TestInit.class, "java-client");
                Echo echo = init.makeEcho();
                List<String> beforeReplies = ours.events();
                assertTrue(ours.gateClosed(), "connect() + makeEcho() waited for a reply: " + ours.events());
                ours.openGate();
                assertEquals(List.of("bootstrap", "call Init.0", "call ThreadMap.0", "call Init.1"),
                        beforeReplies.stream().filter(e -> !e.startsWith("read")).toList(),
                        "construct = Init.0, makeThread = ThreadMap.0, makeEcho = Init.1");
                assertFalse(beforeReplies.stream().anyMatch(e -> e.startsWith("read")), beforeReplies::toString);

                assertEquals("hallo", echo.echo("hallo"));
                // The whole setup was written before the first byte came back.
                List<String> all = ours.events();
                int firstRead = indexOfPrefix(all, "read");
                assertTrue(firstRead > all.indexOf("call Init.1"), all::toString);
                assertTrue(firstRead > all.indexOf("call ThreadMap.0"), all::toString);

                assertEquals("", echo.echo(""));
                assertEquals("haha", echo.echo("haha"));
                StringBuilder big = new StringBuilder(100_000);
                for (int i = 0; i < 100_000; i++) big.append((char) ('a' + i % 26));
                assertEquals(big.toString(), echo.echo(big.toString()));

                assertEquals("construct threadMap=set", peer.next(STEP));
                String makeThread = peer.next(STEP);
                assertEquals("makeThread " + clientThreadName(me), makeThread);
                assertEquals(List.of("makeEcho", "echo 5", "echo 0", "echo 4", "echo 100000"), peer.next(5, STEP));

                echo.close();
                assertEquals(List.of("destroy echo", "released echo"), peer.next(2, STEP));
                init.close();
                assertEquals("disconnected", peer.next(STEP));
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
                assertEquals("", peer.stderr());
            });
        } finally {
            ours.close();
        }
    }

    /** solve() with a callback into a Java Printer, a struct of every field size, lists. */
    @Test
    void javaClientCallbackStructsAndLists(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                TestInit init = MpConnection.connect(pair[0], TestInit.class, "java-client");
                try {
                    TestServers.RecordingPrinter printer = new TestServers.RecordingPrinter();
                    try (Calculator calculator = init.makeCalculator()) {
                        assertEquals(10, calculator.solve("1,2,3,4", printer));
                        assertEquals(List.of("partial 1", "partial 3", "partial 6", "partial 10"), printer.printed);
                        // Which thread each print ran on: see javaClientCallbacksRunOnTheCallingThread.

                        Mixed value = new Mixed(true, (byte) -5, (int) 4_000_000_000L, -9_000_000_000L, "abc", 1.5,
                                false, (short) -300, new byte[] {1, 2, 3}, 0.25f);
                        Mixed bumped = calculator.bump(value);
                        assertMixedEquals(value.bumped(), bumped);
                        assertEquals(4_000_000_001L, Integer.toUnsignedLong(bumped.count()));
                        assertEquals("abc!", bumped.name());
                        assertArrayEquals(new byte[] {3, 2, 1}, bumped.blob());
                        Mixed empty = new Mixed(false, Byte.MAX_VALUE, -1, Long.MAX_VALUE, "", 0, true,
                                Short.MIN_VALUE, new byte[0], -1f);
                        assertMixedEquals(empty.bumped(), calculator.bump(empty));

                        assertEquals(List.of(3, 2, 1), calculator.reverse(List.of(1, 2, 3)));
                        assertEquals(List.of(), calculator.reverse(List.of()));
                        assertEquals(List.of(Integer.MIN_VALUE, 0, Integer.MAX_VALUE),
                                calculator.reverse(List.of(Integer.MAX_VALUE, 0, Integer.MIN_VALUE)));
                    }
                    assertEquals(List.of("construct threadMap=set"), peer.next(1, STEP));
                    assertTrue(peer.next(STEP).startsWith("makeThread "));
                    assertEquals(List.of("makeCalculator", "destroy calculator", "released calculator"),
                            peer.next(3, STEP));
                } finally {
                    init.close();
                }
                assertEquals("disconnected", peer.next(STEP));
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
            });
        } finally {
            pair[0].close();
        }
    }

    /**
     * The C++ server calls print with context.thread = our callbackThread: every print must run on
     * the Java thread that waits for solve(), never on a stand-in thread. The first print can reach
     * us right after the solve call went out, so this repeats solve to catch that window.
     */
    @Test
    void javaClientCallbacksRunOnTheCallingThread(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                TestInit init = MpConnection.connect(pair[0], TestInit.class, "java-client");
                Thread me = Thread.currentThread();
                List<String> wrong = new ArrayList<>();
                int rounds = 200;
                try (Calculator calculator = init.makeCalculator()) {
                    for (int round = 0; round < rounds; round++) {
                        TestServers.RecordingPrinter printer = new TestServers.RecordingPrinter();
                        assertEquals(10, calculator.solve("1,2,3,4", printer));
                        assertEquals(List.of("partial 1", "partial 3", "partial 6", "partial 10"), printer.printed);
                        for (int i = 0; i < printer.threads.size(); i++) {
                            Thread t = printer.threads.get(i);
                            if (t != me) wrong.add("round " + round + " " + printer.printed.get(i) + " on " + t.getName());
                        }
                    }
                } finally {
                    init.close();
                }
                assertEquals(List.of(), wrong, wrong.size() + " of " + (4 * rounds) + " prints did not run on "
                        + me.getName() + ", the thread waiting for solve()");
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
            });
        } finally {
            pair[0].close();
        }
    }

    @Test
    void javaClientGetsTheServersException(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                TestInit init = MpConnection.connect(pair[0], TestInit.class, "java-client");
                try (Echo echo = init.makeEcho()) {
                    RpcException e = assertThrows(RpcException.class, () -> echo.echo("throw:boom"));
                    assertEquals(RpcException.Type.FAILED, e.type(), e::toString);
                    assertTrue(e.reason().contains("boom"), e.reason());
                    assertEquals("after", echo.echo("after"));
                } finally {
                    init.close();
                }
                assertEquals(List.of("construct threadMap=set"), peer.next(1, STEP));
                assertTrue(peer.next(STEP).startsWith("makeThread "));
                assertEquals(List.of("makeEcho", "echo 10", "echo 5", "destroy echo", "released echo",
                        "disconnected"), peer.next(6, STEP));
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
            });
        } finally {
            pair[0].close();
        }
    }

    /**
     * Closing the Echo proxy destroys and releases the C++ object; a call after that is refused by
     * the proxy itself (the peer never sees it); closing the Init proxy ends the connection.
     */
    @Test
    void javaClientReleasesAndRefusesCallsAfterClose(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                TestInit init = MpConnection.connect(pair[0], TestInit.class, "java-client");
                Echo echo = init.makeEcho();
                assertEquals("x", echo.echo("x"));
                assertEquals(List.of("construct threadMap=set"), peer.next(1, STEP));
                assertTrue(peer.next(STEP).startsWith("makeThread "));
                assertEquals(List.of("makeEcho", "echo 1"), peer.next(2, STEP));

                echo.close();
                assertEquals(List.of("destroy echo", "released echo"), peer.next(2, STEP));
                IllegalStateException refused = assertThrows(IllegalStateException.class, () -> echo.echo("y"));
                assertEquals("Echo.echo called after close()", refused.getMessage());
                echo.close();  // idempotent, sends nothing

                MpConnection connection = MpConnection.of(init);
                init.close();
                assertTrue(connection.awaitEnd(STEP.toMillis(), TimeUnit.MILLISECONDS));
                assertEquals("disconnected", peer.next(STEP), "the refused call never reached the peer");
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
                assertEquals(List.of(), peer.remaining());
                assertEquals("", peer.stderr());
            });
        } finally {
            pair[0].close();
        }
    }

    /** The peer dies (SIGKILL) during a call: the call fails promptly, as does every later one. */
    @Test
    void javaClientSurvivesThePeerDyingMidCall(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (Peer peer = Peer.spawn(tmp, pair[1], "serve-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                TestInit init = MpConnection.connect(pair[0], TestInit.class, "java-client");
                MpConnection connection = MpConnection.of(init);
                Echo echo = init.makeEcho();
                assertEquals("warm", echo.echo("warm"));
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicReference<String> unexpected = new AtomicReference<>();
                Thread caller = new Thread(() -> {
                    try {
                        unexpected.set(echo.echo("sleep:10000"));
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                }, "sleeping-caller");
                caller.setDaemon(true);
                caller.start();
                peer.await("echo 11", STEP);  // the call is running in the peer

                long start = System.nanoTime();
                peer.kill9();
                caller.join(5_000);
                long elapsed = System.nanoTime() - start;
                assertFalse(caller.isAlive(), "the pending call did not fail within 5 s");
                assertTrue(elapsed < TimeUnit.SECONDS.toNanos(2), "failed after " + elapsed / 1_000_000 + " ms");
                assertEquals(null, unexpected.get());
                RpcException e = assertInstanceOf(RpcException.class, failure.get());
                assertEquals(RpcException.Type.DISCONNECTED, e.type(), e::toString);

                RpcException later = assertThrows(RpcException.class, () -> echo.echo("x"));
                assertEquals(RpcException.Type.DISCONNECTED, later.type(), later::toString);
                RpcException again = assertThrows(RpcException.class, () -> init.makeEcho().echo("y"));
                assertEquals(RpcException.Type.DISCONNECTED, again.type(), again::toString);
                assertTrue(connection.awaitEnd(STEP.toMillis(), TimeUnit.MILLISECONDS));

                echo.close();
                init.close();
                int status = peer.awaitExit(STEP);
                assertEquals(9, SpawnedProcess.termSignal(status), "status " + status);
            });
        } finally {
            pair[0].close();
        }
    }

    // ==========================================================================================
    // B. C++ client (mp_peer client-fd N <scenario>) -> Java server

    @Test
    void cppClientEcho(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "echo",
                List.of("echo hallo", "echo ", "echo haha", "echo-len 100000", "destroyed"),
                List.of("makeEcho", "echo 5", "echo 0", "echo 4", "echo 100000", "destroy echo"), null);
    }

    /** "print-thread ok": our server calls back with context.thread = the client's callbackThread. */
    @Test
    void cppClientCallback(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "callback",
                List.of("print partial 1", "print-thread ok",
                        "print partial 3", "print-thread ok",
                        "print partial 6", "print-thread ok",
                        "print partial 10", "print-thread ok",
                        // TestServers' solve closes the printer (libmultiprocess destroys a client
                        // object's remote when its proxy goes), which reaches the C++ printer.
                        "client destroy printer",
                        "solve 10",
                        "bump flag=false small=-4 count=4000000001 big=-8999999999 name=abc! ratio=2.5"
                                + " other=true medium=-299 blob=3,2,1 fraction=1.25",
                        "reverse 3,2,1",
                        "destroyed"),
                List.of("makeCalculator", "destroy calculator"), null);
    }

    @Test
    void cppClientException(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "exception",
                List.of("exception remote exception: java.lang.IllegalArgumentException: boom", "echo after"),
                // The client drops the Echo without destroy: the release closes the Java object.
                List.of("makeEcho", "echo 10", "echo 5", "destroy echo"), null);
    }

    @Test
    void cppClientDestroyedCall(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "destroyed-call",
                List.of("destroyed",
                        "exception remote exception: java.lang.IllegalStateException: Echo.echo called after destroy"),
                List.of("makeEcho", "destroy echo"), null);
    }

    @Test
    void cppClientBadThread(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "bad-thread",
                List.of("exception remote exception: invalid thread handle", "echo ok"),
                List.of("makeEcho", "echo 2", "destroy echo"), null);
    }

    /** The client process leaves (_exit) during echo("sleep:10000"): the call is interrupted. */
    @Test
    void cppClientDisconnect(@TempDir Path tmp) throws Exception {
        cppClient(tmp, "disconnect", List.of("leaving"), List.of("makeEcho", "echo 11", "destroy echo"), events -> {
            List<String> seen = List.copyOf(events.lines);
            assertTrue(seen.contains("interrupted"), "running call was not interrupted: " + seen);
            // Whether "destroy echo" may come before "interrupted": see
            // cppClientDisconnectClosesTheObjectOnlyAfterItsCallEnded.
        });
    }

    /**
     * The client leaves while echo("sleep:10000") runs on our server, whose Echo takes a moment to
     * wind down once interrupted: like the C++ server (and capnp's reference counting), our server
     * must close the Echo only after the call running on it has returned, never under its feet.
     */
    @Test
    void cppClientDisconnectClosesTheObjectOnlyAfterItsCallEnded(@TempDir Path tmp) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        SlowToStopInit impl = new SlowToStopInit();
        MpConnection server = MpConnection.serve(pair[0], impl, TestInit.class, "java-server");
        try (Peer peer = Peer.spawn(tmp, pair[1], "client-fd", "disconnect")) {
            assertTimeoutPreemptively(TEST, () -> {
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
                assertTrue(server.awaitEnd(5, TimeUnit.SECONDS), "the server did not see the client go");
                waitUntil(() -> impl.events.contains("closed"), STEP);
                List<String> seen = List.copyOf(impl.events);
                assertEquals(List.of("makeEcho", "echo sleep:10000", "interrupted", "returned", "closed"), seen,
                        "the Echo was closed while its echo() call was still running");
            });
        } finally {
            server.close();
        }
    }

    /** A TestInit whose Echo, once interrupted, takes 300 ms to return (as real cleanup might). */
    private static final class SlowToStopInit implements TestInit {
        final java.util.Queue<String> events = new java.util.concurrent.ConcurrentLinkedQueue<>();

        @Override
        public Echo makeEcho() {
            events.add("makeEcho");
            return new Echo() {
                @Override
                public String echo(String echo) {
                    events.add("echo " + echo);
                    try {
                        Thread.sleep(Long.parseLong(echo.substring("sleep:".length())));
                        return echo;
                    } catch (InterruptedException e) {
                        events.add("interrupted");
                        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
                        while (System.nanoTime() < until) Thread.onSpinWait();
                        throw new IllegalStateException("interrupted");
                    } finally {
                        events.add("returned");
                    }
                }

                @Override
                public void close() {
                    events.add("closed");
                }
            };
        }

        @Override
        public Calculator makeCalculator() {
            throw new UnsupportedOperationException("not in this test");
        }
    }

    /**
     * Serves a TestServers.InitImpl on our end, runs client scenario {@code scenario} on the other,
     * and checks the client's stdout (after its "thread ..." line), its exit, that the connection
     * ends with empty tables, and the server's events (then {@code more}).
     */
    private static void cppClient(Path tmp, String scenario, List<String> clientLines, List<String> serverEvents,
                                  Consumer<TestServers.Events> more) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        TestServers.Events events = new TestServers.Events();
        MpConnection server = MpConnection.serve(pair[0], new TestServers.InitImpl(events), TestInit.class, "java-server");
        try (Peer peer = Peer.spawn(tmp, pair[1], "client-fd", scenario)) {
            assertTimeoutPreemptively(TEST, () -> {
                int code = peer.awaitExitCode(STEP);
                long exited = System.nanoTime();
                List<String> out = peer.remaining();
                assertEquals(0, code, peer::describe);
                assertFalse(out.isEmpty(), peer::describe);
                Pattern thread = Pattern.compile("thread " + Pattern.quote(EXE + "-" + PID)
                        + "/mp-worker-\\d+ \\(from cpp-client\\)");
                assertTrue(thread.matcher(out.get(0)).matches(), peer::describe);
                assertEquals(clientLines, out.subList(1, out.size()), peer::describe);
                assertEquals("", peer.stderr());

                assertTrue(server.awaitEnd(5, TimeUnit.SECONDS), "the server did not see the client go");
                long ended = (System.nanoTime() - exited) / 1_000_000;
                assertTrue(ended < 5_000, "connection ended " + ended + " ms after the client exited");

                waitUntil(() -> events.lines.size() >= serverEvents.size() + (more == null ? 0 : 1), STEP);
                List<String> seen = List.copyOf(events.lines);
                assertEquals(serverEvents, seen.stream().filter(l -> !l.equals("interrupted")).toList());
                if (more != null) more.accept(events);

                waitUntil(() -> Arrays.stream(server.rpc().tableSizes()).allMatch(n -> n == 0), STEP);
                assertArrayEquals(new int[] {0, 0, 0, 0}, server.rpc().tableSizes(),
                        "questions, answers, imports, exports after the end");
            });
        } finally {
            server.close();
        }
    }

    // ==========================================================================================
    // Helpers

    /** The name our client thread gives its server thread (MpConnection.clientThread). */
    private static String clientThreadName(Thread t) {
        return EXE + "-" + PID + "/" + t.getName() + "-" + t.threadId();
    }

    private static int indexOfPrefix(List<String> list, String prefix) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).startsWith(prefix)) return i;
        }
        return -1;
    }

    private static void assertMixedEquals(Mixed expected, Mixed actual) {
        assertNotNull(actual);
        assertEquals(expected.flag(), actual.flag(), "flag");
        assertEquals(expected.small(), actual.small(), "small");
        assertEquals(expected.count(), actual.count(), "count");
        assertEquals(expected.big(), actual.big(), "big");
        assertEquals(expected.name(), actual.name(), "name");
        assertEquals(expected.ratio(), actual.ratio(), "ratio");
        assertEquals(expected.other(), actual.other(), "other");
        assertEquals(expected.medium(), actual.medium(), "medium");
        assertArrayEquals(expected.blob(), actual.blob(), "blob");
        assertEquals(expected.fraction(), actual.fraction(), "fraction");
    }

    private interface Condition {
        boolean holds() throws Exception;
    }

    private static void waitUntil(Condition condition, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.holds() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /**
     * The C++ peer spawned with one end of a socketpair under its own number (SpawnedProcess), its
     * stdout and stderr appended to files by a /bin/sh that execs it (so the pid is the peer's). Its
     * stdout lines are consumed in order by the await methods, which poll the file. close() kills
     * it if it still runs and reaps it, bounded.
     */
    static final class Peer implements AutoCloseable {
        private static final String SCRIPT = "out=$1; err=$2; shift 2; exec \"$@\" >>\"$out\" 2>>\"$err\"";

        private final SpawnedProcess process;
        private final Path out;
        private final Path err;
        private final String command;
        private int consumed;

        private Peer(SpawnedProcess process, Path out, Path err, String command) {
            this.process = process;
            this.out = out;
            this.err = err;
            this.command = command;
        }

        /**
         * Spawns {@code mp_peer <mode> <fd of childEnd> <extra...>} and closes our copy of
         * {@code childEnd}, so the peer holds the only one.
         */
        static Peer spawn(Path dir, FdStream childEnd, String mode, String... extra) throws IOException {
            Path out = Files.createTempFile(dir, "mp_peer-" + mode, ".out");
            Path err = Files.createTempFile(dir, "mp_peer-" + mode, ".err");
            String fd = Integer.toString(childEnd.fd());
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", SCRIPT, "sh", out.toString(), err.toString(),
                    CppPeer.binary().toString(), mode, fd));
            argv.addAll(List.of(extra));
            SpawnedProcess process;
            try {
                process = SpawnedProcess.spawn(argv, childEnd.fd());
            } finally {
                childEnd.close();
            }
            return new Peer(process, out, err, "mp_peer " + mode + " " + fd + " " + String.join(" ", extra));
        }

        /** The complete stdout lines written so far. */
        synchronized List<String> lines() {
            String text;
            try {
                text = Files.readString(out, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            int end = text.lastIndexOf('\n');
            if (end < 0) return List.of();
            return List.of(text.substring(0, end).split("\n", -1));
        }

        /** The lines not consumed yet (consuming them). */
        synchronized List<String> remaining() {
            List<String> all = lines();
            List<String> rest = all.subList(Math.min(consumed, all.size()), all.size());
            consumed = all.size();
            return List.copyOf(rest);
        }

        String next(Duration timeout) throws InterruptedException {
            return await(line -> true, "any line", timeout);
        }

        List<String> next(int count, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            List<String> result = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                result.add(next(Duration.ofNanos(Math.max(0, deadline - System.nanoTime()))));
            }
            return result;
        }

        /** Consumes lines up to and including the first one equal to {@code expected}. */
        void await(String expected, Duration timeout) throws InterruptedException {
            await(expected::equals, "\"" + expected + "\"", timeout);
        }

        String await(java.util.function.Predicate<String> wanted, String what, Duration timeout)
                throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                boolean ended = exited();
                synchronized (this) {
                    List<String> all = lines();
                    while (consumed < all.size()) {
                        String line = all.get(consumed++);
                        if (wanted.test(line)) return line;
                    }
                }
                if (ended) throw new AssertionError("output ended before " + what + "; " + describe());
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no " + what + " within " + timeout + "; " + describe());
                }
                Thread.sleep(5);
            }
        }

        private boolean exited() {
            try {
                return process.tryWait().isPresent();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Waits for the peer to end; its raw wait status. */
        int awaitExit(Duration timeout) throws InterruptedException, IOException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                OptionalInt status = process.tryWait();
                if (status.isPresent()) return status.getAsInt();
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(command + " did not exit within " + timeout + "; " + describe());
                }
                Thread.sleep(5);
            }
        }

        /** Waits for the peer to exit; its exit code (-1 if a signal ended it). */
        int awaitExitCode(Duration timeout) throws InterruptedException, IOException {
            int status = awaitExit(timeout);
            return SpawnedProcess.exitCode(status);
        }

        void kill9() throws IOException {
            process.kill(SIGKILL);
        }

        String stderr() {
            try {
                return Files.readString(err, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(unreadable: " + e + ")";
            }
        }

        String describe() {
            String status;
            try {
                OptionalInt s = process.tryWait();
                status = s.isPresent() ? "wait status " + s.getAsInt() : "running";
            } catch (IOException e) {
                status = "status unknown: " + e;
            }
            return command + " (pid " + process.pid() + ", " + status + "): stdout " + lines() + ", stderr:\n"
                    + stderr();
        }

        @Override
        public void close() throws IOException, InterruptedException {
            if (process.tryWait().isPresent()) return;
            process.kill(SIGKILL);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (process.tryWait().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        }
    }

    private static final int SIGKILL = 9;

    /**
     * A Stream that records, in order, the RPC messages written (decoded from the frames: "bootstrap",
     * "call Init.1", "return", ...) and the reads that returned bytes ("read N"). With a gate, reads
     * wait until {@link #openGate()} (or, as a safety net, GATE_TIMEOUT, noted by gateClosed()).
     */
    static final class RecordingStream implements dev.bitcoinmp.capnp.Stream {
        private static final Duration GATE_TIMEOUT = Duration.ofSeconds(5);
        private static final Map<Long, String> INTERFACES = Map.of(
                0x8838c700ba5cba65L, "Init",
                0x91ebcb15731081b3L, "TestInit",
                0xee5e37179ad9dc9dL, "ThreadMap",
                0x81c1e2600d0b56c5L, "Thread",
                0xd36b89640dc94399L, "Echo",
                0xb312e3f1263e674aL, "Calculator",
                0xd6f3f596c12bd3d8L, "Printer");
        private static final String[] TAGS = {"unimplemented", "abort", "call", "return", "finish", "resolve",
                "release", "obsoleteSave", "bootstrap", "obsoleteDelete", "provide", "accept", "join", "disembargo"};

        private final dev.bitcoinmp.capnp.Stream delegate;
        private final List<String> events = new ArrayList<>();
        private final CountDownLatch gate;
        private volatile boolean gateTimedOut;
        private final ByteArrayOutputStream written = new ByteArrayOutputStream();

        RecordingStream(dev.bitcoinmp.capnp.Stream delegate, boolean gated) {
            this.delegate = delegate;
            this.gate = new CountDownLatch(gated ? 1 : 0);
        }

        List<String> events() {
            synchronized (events) {
                return List.copyOf(events);
            }
        }

        /** True if the gate is still closed and never gave up waiting. */
        boolean gateClosed() {
            return gate.getCount() > 0 && !gateTimedOut;
        }

        void openGate() {
            gate.countDown();
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            try {
                if (!gate.await(GATE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) gateTimedOut = true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted at the read gate");
            }
            int n = delegate.read(dst);
            if (n > 0) add("read " + n);
            return n;
        }

        @Override
        public void write(ByteBuffer[] srcs, int count) throws IOException {
            for (int i = 0; i < count; i++) {
                ByteBuffer copy = srcs[i].duplicate();
                byte[] bytes = new byte[copy.remaining()];
                copy.get(bytes);
                written.writeBytes(bytes);
            }
            decodeFrames();
            delegate.write(srcs, count);
        }

        @Override
        public void close() throws IOException {
            gate.countDown();
            delegate.close();
        }

        private void add(String event) {
            synchronized (events) {
                events.add(event);
            }
        }

        /** Records every complete frame in {@link #written} and drops it. */
        private void decodeFrames() {
            byte[] all = written.toByteArray();
            ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            int pos = 0;
            while (all.length - pos >= 8) {
                int segments = buf.getInt(pos) + 1;
                int headerBytes = (4 + 4 * segments + 7) & ~7;
                if (segments <= 0 || segments > 512 || all.length - pos < headerBytes) break;
                long words = 0;
                for (int i = 0; i < segments; i++) words += Integer.toUnsignedLong(buf.getInt(pos + 4 + 4 * i));
                long frameBytes = headerBytes + 8 * words;
                if (all.length - pos < frameBytes) break;
                int seg0 = pos + headerBytes;
                int seg0Bytes = 8 * buf.getInt(pos + 4);
                add(describeMessage(buf.slice(seg0, seg0Bytes).order(ByteOrder.LITTLE_ENDIAN)));
                pos += (int) frameBytes;
            }
            written.reset();
            written.write(all, pos, all.length - pos);
        }

        /** "bootstrap", "call Interface.method", "return", ...; "message ?" if not decodable here. */
        private static String describeMessage(ByteBuffer seg) {
            try {
                int message = structAt(seg, 0);
                if (message < 0) return "message ?";
                long root = seg.getLong(0);
                int dataWords = (int) ((root >>> 32) & 0xffff);
                int tag = dataWords > 0 ? seg.getShort(message) & 0xffff : 0;
                String name = tag < TAGS.length ? TAGS[tag] : "message " + tag;
                if (tag != 2) return name;
                int call = structAt(seg, message + 8 * dataWords);
                if (call < 0) return "call ?";
                long iface = seg.getLong(call + 8);
                int method = seg.getShort(call + 4) & 0xffff;
                return "call " + INTERFACES.getOrDefault(iface, Long.toHexString(iface)) + "." + method;
            } catch (IndexOutOfBoundsException e) {
                return "message ?";
            }
        }

        /** The byte offset of the struct the (near, struct) pointer at {@code at} points to, or -1. */
        private static int structAt(ByteBuffer seg, int at) {
            long pointer = seg.getLong(at);
            if ((pointer & 3) != 0 || pointer == 0) return -1;
            int offset = ((int) pointer) >> 2;
            return at + 8 * (1 + offset);
        }
    }
}
