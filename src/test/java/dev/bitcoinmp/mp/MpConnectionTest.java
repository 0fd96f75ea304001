package dev.bitcoinmp.mp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.testing.Calculator;
import dev.bitcoinmp.testing.Mixed;
import dev.bitcoinmp.testing.TestInit;
import dev.bitcoinmp.testing.TestServers;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Java client and Java server over a socketpair, as a spawning parent and its child use it. */
class MpConnectionTest {

    private final TestServers.Events events = new TestServers.Events();
    private MpConnection server;
    private TestInit init;

    @BeforeEach
    void connect() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        server = MpConnection.serve(pair[0], new TestServers.InitImpl(events), TestInit.class, "server");
        init = MpConnection.connect(pair[1], TestInit.class, "client");
    }

    @AfterEach
    void close() throws Exception {
        init.close();
        assertTrue(server.awaitEnd(5, TimeUnit.SECONDS), "server saw the disconnect");
    }

    @Test
    void echoesThroughTheServerThread() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (Echo echo = init.makeEcho()) {
                assertEquals("hallo", echo.echo("hallo"));
                assertEquals("", echo.echo(""));
                assertEquals("haha", echo.echo("haha"));
                String big = "x".repeat(100_000);
                assertEquals(big, echo.echo(big));
                assertEquals("ünïcödé ✓", echo.echo("ünïcödé ✓"));
                // Three bytes a character: more than the message's first segment was sized for, so the
                // text goes out in a second segment (a multi-segment frame both ways).
                String wide = "✓".repeat(50_000);
                assertEquals(wide, echo.echo(wide));
            }
            assertTrue(events.lines.contains("destroy echo"));
            // Calls ran on a server thread named after the client's thread, not on the reader.
            Thread serverThread = events.threads.stream().skip(1).findFirst().orElseThrow();
            assertTrue(serverThread.getName().contains("(from java-"), serverThread.getName());
        });
    }

    /**
     * A server thread started ahead of time (as a spawned child does) serves the client's first makeThread: the
     * calls run on it, named for the client's thread; one never asked for ends with the connection.
     */
    @Test
    void prestartedThreadServesTheFirstMakeThread() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            server.prestartThread();
            Thread spare = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().contains("/mp-worker-") && !t.getName().contains("(from")).findFirst().orElseThrow();
            try (Echo echo = init.makeEcho()) {
                assertEquals("hallo", echo.echo("hallo"));
            }
            Thread ran = events.threads.stream().skip(1).findFirst().orElseThrow();
            assertTrue(ran == spare, "the call ran on the prestarted thread, not on " + ran.getName());
            assertTrue(ran.getName().contains("(from java-"), ran.getName());

            // A second connection whose spare is never asked for: its thread ends with the connection.
            FdStream[] pair = FdStream.socketPair();
            MpConnection other = MpConnection.serve(pair[0], new TestServers.InitImpl(events), TestInit.class, "other");
            other.prestartThread();
            Thread unused = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().contains("/mp-worker-") && !t.getName().contains("(from") && t != spare)
                    .findFirst().orElseThrow();
            TestInit otherInit = MpConnection.connect(pair[1], TestInit.class, "other-client");
            otherInit.close();
            assertTrue(other.awaitEnd(5, TimeUnit.SECONDS));
            unused.join(5_000);
            assertTrue(!unused.isAlive(), "the spare thread ended with its connection");
        });
    }

    /**
     * Messages and their buffers are reused (incoming ones once read, outgoing ones once written): calls of
     * many sizes from several threads at once, ASCII and not, small and large (native buffers), each answered
     * with exactly its own text.
     */
    @Test
    void concurrentCallsOfManySizesGetTheirOwnAnswers() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            int threads = 6;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> callers = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = 1000 + t;
                Thread caller = new Thread(() -> {
                    java.util.Random random = new java.util.Random(seed);
                    try (Echo echo = init.makeEcho()) {
                        for (int i = 0; i < 150; i++) {
                            int size = switch (random.nextInt(4)) {
                                case 0 -> random.nextInt(40);
                                case 1 -> random.nextInt(2_000);
                                case 2 -> 8_000 + random.nextInt(30_000);
                                default -> 60_000 + random.nextInt(150_000);
                            };
                            StringBuilder text = new StringBuilder(size);
                            boolean wide = random.nextInt(5) == 0;
                            for (int k = 0; k < size; k++) {
                                text.append(wide && k % 97 == 5 ? '\u00e9' : (char) ('a' + random.nextInt(26)));
                            }
                            String sent = text.toString();
                            String back = echo.echo(sent);
                            if (!sent.equals(back)) throw new AssertionError("call " + i + " of " + size + " chars came back altered");
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                caller.start();
                callers.add(caller);
            }
            for (Thread caller : callers) caller.join();
            if (failure.get() != null) throw new AssertionError("a caller failed", failure.get());
        });
    }

    @Test
    void exceptionReachesTheCallerWithTheServersReason() {
        try (Echo echo = init.makeEcho()) {
            RpcException e = assertThrows(RpcException.class, () -> echo.echo("throw:boom"));
            assertEquals(RpcException.Type.FAILED, e.type());
            assertEquals("java.lang.IllegalArgumentException: boom", e.reason());
            assertEquals("after", echo.echo("after"));
        }
    }

    @Test
    void callAfterCloseFailsClearly() {
        Echo echo = init.makeEcho();
        echo.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> echo.echo("x"));
        assertEquals("Echo.echo called after close()", e.getMessage());
        echo.close();  // idempotent
    }

    @Test
    void callbackRunsOnTheWaitingClientThread() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            TestServers.RecordingPrinter printer = new TestServers.RecordingPrinter();
            try (Calculator calculator = init.makeCalculator()) {
                assertEquals(10, calculator.solve("1,2,3,4", printer));
            }
            assertEquals(List.of("partial 1", "partial 3", "partial 6", "partial 10"), printer.printed);
            for (Thread t : printer.threads) assertEquals(Thread.currentThread(), t);
        });
    }

    @Test
    void structsAndListsRoundTrip() {
        try (Calculator calculator = init.makeCalculator()) {
            Mixed value = new Mixed(true, (byte) -5, (int) 4_000_000_000L, -9_000_000_000L, "abc", 1.5, false,
                    (short) -300, new byte[] {1, 2, 3}, 0.25f);
            Mixed bumped = calculator.bump(value);
            Mixed expected = value.bumped();
            assertEquals(expected.flag(), bumped.flag());
            assertEquals(expected.small(), bumped.small());
            assertEquals(Integer.toUnsignedLong(expected.count()), Integer.toUnsignedLong(bumped.count()));
            assertEquals(expected.big(), bumped.big());
            assertEquals("abc!", bumped.name());
            assertEquals(2.5, bumped.ratio());
            assertEquals(true, bumped.other());
            assertEquals((short) -299, bumped.medium());
            assertArrayEquals(new byte[] {3, 2, 1}, bumped.blob());
            assertEquals(1.25f, bumped.fraction());
            assertEquals(List.of(3, 2, 1), calculator.reverse(List.of(1, 2, 3)));
            assertEquals(List.of(), calculator.reverse(List.of()));
        }
    }

    @Test
    void disconnectFailsPendingCallPromptlyAndCancelsTheServerCall() throws Exception {
        Echo echo = init.makeEcho();
        assertEquals("warm", echo.echo("warm"));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread caller = new Thread(() -> {
            try {
                echo.echo("sleep:30000");
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        caller.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!events.lines.contains("echo 11") && System.nanoTime() < deadline) Thread.sleep(5);
        long start = System.nanoTime();
        server.close();
        caller.join(5000);
        assertTrue(!caller.isAlive(), "caller returned");
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "failed promptly");
        RpcException e = (RpcException) failure.get();
        assertEquals(RpcException.Type.DISCONNECTED, e.type());
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!events.lines.contains("interrupted") && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(events.lines.contains("interrupted"), "running call was canceled: " + events.lines);
        RpcException after = assertThrows(RpcException.class, () -> echo.echo("x"));
        assertEquals(RpcException.Type.DISCONNECTED, after.type());
        echo.close();
    }

    @Test
    void tablesAreEmptyAfterObjectsAreClosed() throws Exception {
        try (Echo echo = init.makeEcho()) {
            echo.echo("a");
        }
        try (Calculator calculator = init.makeCalculator()) {
            calculator.solve("1", new TestServers.RecordingPrinter());
        }
        // Left: the bootstrap Init, the client's ThreadMap and this thread's server thread and callback thread.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int[] sizes;
        do {
            sizes = server.rpc().tableSizes();
            Thread.sleep(10);
            // The Release that follows a destroy's Finish may still be on its way: wait for all three.
        } while ((sizes[0] != 0 || sizes[1] != 0 || sizes[3] != 3) && System.nanoTime() < deadline);
        assertEquals(0, sizes[0], "server questions");
        assertEquals(0, sizes[1], "server answers");
        assertEquals(3, sizes[3], "server exports: Init, ThreadMap, Thread; got " + java.util.Arrays.toString(sizes));
    }
}
