package dev.bitcoinmp.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The C++ reference peer against itself: its client scenarios run against its own server over a
 * unix socket, and the bench mode produces a figure. No Java RPC is involved, so this proves the
 * scenarios' mechanics (and the C++ server's event lines) that the interop tests rely on.
 */
class CppPeerSelfTest {
    /** Bound on every single wait: a process start, a scenario, a line. */
    private static final Duration STEP = Duration.ofSeconds(20);
    /** Bound on a whole test. */
    private static final Duration TEST = Duration.ofSeconds(60);

    private static final String THREAD = "thread cpp-peer/cpp-client";
    private static final List<String> SETUP = List.of(
            "construct threadMap=set", "makeThread cpp-client");

    @BeforeAll
    static void build() {
        CppPeer.assumeAvailable();
        CppPeer.binary();
    }

    @Test
    void echo(@TempDir Path tmp) throws Exception {
        scenario(tmp, "echo",
                List.of(THREAD, "echo hallo", "echo ", "echo haha", "echo-len 100000", "destroyed"),
                concat(SETUP, "makeEcho", "echo 5", "echo 0", "echo 4", "echo 100000", "destroy echo",
                        "released echo", "disconnected"));
    }

    @Test
    void callback(@TempDir Path tmp) throws Exception {
        scenario(tmp, "callback",
                List.of(THREAD,
                        "print partial 1", "print-thread ok",
                        "print partial 3", "print-thread ok",
                        "print partial 6", "print-thread ok",
                        "print partial 10", "print-thread ok",
                        "solve 10",
                        "bump flag=false small=-4 count=4000000001 big=-8999999999 name=abc! ratio=2.5"
                                + " other=true medium=-299 blob=3,2,1 fraction=1.25",
                        "reverse 3,2,1",
                        "destroyed"),
                concat(SETUP, "makeCalculator", "destroy calculator", "released calculator",
                        "disconnected"));
    }

    @Test
    void exception(@TempDir Path tmp) throws Exception {
        scenario(tmp, "exception",
                List.of(THREAD, "exception remote exception: boom", "echo after"),
                concat(SETUP, "makeEcho", "echo 10", "echo 5", "released echo", "disconnected"));
    }

    @Test
    void destroyedCall(@TempDir Path tmp) throws Exception {
        scenario(tmp, "destroyed-call",
                List.of(THREAD, "destroyed", "exception remote exception: called after destroy"),
                concat(SETUP, "makeEcho", "destroy echo", "released echo", "disconnected"));
    }

    /** The client leaves with a call pending: the server cancels it and releases everything. */
    @Test
    void disconnect(@TempDir Path tmp) throws Exception {
        scenario(tmp, "disconnect",
                List.of(THREAD, "leaving"),
                concat(SETUP, "makeEcho", "echo 11", "released echo", "disconnected"));
    }

    /** The server refuses a context naming a thread that is not one of its own. */
    @Test
    void badThread(@TempDir Path tmp) throws Exception {
        scenario(tmp, "bad-thread",
                List.of(THREAD, "exception remote exception: invalid thread handle", "echo ok"),
                concat(SETUP, "makeEcho", "echo 2", "released echo", "disconnected"));
    }

    /** One listening server serves one connection after another, each with its own TestInit. */
    @Test
    void serverServesEveryConnection(@TempDir Path tmp) throws Exception {
        Path socket = tmp.resolve("peer.sock");
        Process server = CppPeer.start("serve-unix", socket.toString());
        CppPeer.Lines events = new CppPeer.Lines(server);
        try {
            assertTimeoutPreemptively(TEST, () -> {
                events.await("listening", STEP);
                for (int i = 0; i < 3; i++) {
                    CppPeer.Result client = CppPeer.run(STEP, "client-unix", socket.toString(), "exception");
                    assertEquals(0, client.exitCode(), client::describe);
                    assertEquals(concat(SETUP, "makeEcho", "echo 10", "echo 5", "released echo",
                            "disconnected"), events.next(7, STEP));
                }
            });
        } finally {
            CppPeer.stop(server);
            events.close();
        }
    }

    @Test
    void bench() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            CppPeer.Result result = CppPeer.run(STEP, "bench", "2000", "5", "1");
            assertEquals(0, result.exitCode(), result::describe);
            assertEquals(1, result.stdout().size(), result::describe);
            Matcher m = Pattern.compile("median_us=(\\d+\\.\\d) calls_per_sec=(\\d+)")
                    .matcher(result.stdout().get(0));
            assertTrue(m.matches(), result::describe);
            assertTrue(Double.parseDouble(m.group(1)) > 0, result::describe);
            assertTrue(Long.parseLong(m.group(2)) > 0, result::describe);
            System.out.println("C++ reference bench 2000 5 1: " + result.stdout().get(0));
        });
    }

    @Test
    void usageErrors() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            CppPeer.Result noArgs = CppPeer.run(STEP);
            assertEquals(2, noArgs.exitCode(), noArgs::describe);
            assertTrue(noArgs.stderr().contains("usage: mp_peer"), noArgs::describe);
            CppPeer.Result unknown = CppPeer.run(STEP, "client-unix", "/nonexistent", "no-such-scenario");
            assertEquals(2, unknown.exitCode(), unknown::describe);
            assertTrue(unknown.stderr().contains("unknown scenario 'no-such-scenario'"), unknown::describe);
            CppPeer.Result refused = CppPeer.run(STEP, "client-unix", "/nonexistent/peer.sock", "echo");
            assertEquals(1, refused.exitCode(), refused::describe);
            assertTrue(refused.stderr().startsWith("mp_peer: error: "), refused::describe);
        });
    }

    /**
     * Starts a server on a unix socket in {@code tmp}, runs client {@code name} against it, and
     * checks the client's stdout and, in order, the server's event lines after "listening".
     */
    private static void scenario(Path tmp, String name, List<String> clientLines, List<String> serverLines)
            throws Exception {
        Path socket = tmp.resolve("peer.sock");
        Process server = CppPeer.start("serve-unix", socket.toString());
        CppPeer.Lines events = new CppPeer.Lines(server);
        try {
            assertTimeoutPreemptively(TEST, () -> {
                events.await("listening", STEP);
                CppPeer.Result client = CppPeer.run(STEP, "client-unix", socket.toString(), name);
                assertEquals(0, client.exitCode(), client::describe);
                assertEquals(clientLines, client.stdout(), client::describe);
                assertEquals("", client.stderr(), client::describe);
                assertEquals(serverLines, events.next(serverLines.size(), STEP),
                        () -> "server stderr:\n" + CppPeer.stderr(server));
            });
            assertTrue(server.isAlive(), "the server keeps listening after a connection");
            assertEquals("", CppPeer.stderr(server));
        } finally {
            CppPeer.stop(server);
            events.close();
        }
    }

    private static List<String> concat(List<String> head, String... tail) {
        return java.util.stream.Stream.concat(head.stream(), java.util.Arrays.stream(tail)).toList();
    }
}
