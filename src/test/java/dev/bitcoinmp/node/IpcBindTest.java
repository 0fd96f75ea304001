package dev.bitcoinmp.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Stream;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.ipc.IpcProcess;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.ipc.UnixAddress;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bitcoin-node -ipcbind} end to end: a real node, Java clients over its unix sockets (Init, Echo, Rpc),
 * many at once, clients that vanish mid-call, the connection limit, socket files and their permissions, start-up
 * errors, and shutdowns that no client can hold up.
 */
class IpcBindTest {
    private static final Duration TEST = Duration.ofSeconds(180);
    /** A node must be gone this soon after stop or SIGTERM, clients or not (it takes ~1-3 s here). */
    private static final Duration PROMPT_EXIT = Duration.ofSeconds(20);

    @TempDir
    static Path bin;
    /** Shared by the tests that do not stop it: -ipcbind=unix and -ipcbind=unix:a/b/c.sock. */
    private static TestNode shared;

    @BeforeAll
    static void startSharedNode() throws Exception {
        TestNode.writeLaunchers(bin);
        shared = TestNode.start(bin, "bitcoin-node", Files.createDirectories(bin.resolve("shared")),
                "-ipcbind=unix", "-ipcbind=unix:a/b/c.sock");
    }

    @AfterAll
    static void stopSharedNode() {
        if (shared != null) shared.kill();
    }

    private static Init connect(Path socket) throws IOException {
        return new Protocol("ipc-test").connect(IpcProcess.connect(new UnixAddress(socket)), "ipc-test-client");
    }

    private static Path nodeSock(TestNode node) {
        return node.netDir().resolve("node.sock");
    }

    @Test
    void echoThroughTheSocketAsCoresTest() {
        assertTimeoutPreemptively(TEST, () -> {
            try (Init init = connect(nodeSock(shared))) {
                try (Echo echo = init.makeEcho()) {
                    for (String text : List.of("hallo", "", "haha")) assertEquals(text, echo.echo(text));
                    String big = "x".repeat(1 << 20);
                    assertEquals(big, echo.echo(big));
                }
            }
            assertTrue(shared.debugLog().contains("Listening for IPC requests on address unix:" + nodeSock(shared) + "\n"));
            assertTrue(shared.process().isAlive(), "a client's disconnect does not end a listening node");
        });
    }

    @Test
    void executeRpcAnswersAsHttpDoes() {
        assertTimeoutPreemptively(TEST, () -> {
            List<String> requests = List.of(
                    "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\",1,{\"b\":null}],\"id\":7}",
                    "{\"method\":\"echo\",\"params\":[],\"id\":\"legacy\"}",
                    "{\"method\":\"nosuchmethod\",\"id\":1}",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"arg1\":\"named\"},\"id\":2}",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"nosuch\":1},\"id\":3}",
                    "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1},{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}]",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"params\":[\"echo\"],\"id\":4}",
                    "not json");
            try (Init init = connect(nodeSock(shared)); Rpc rpc = init.makeRpc()) {
                for (String request : requests) {
                    HttpResponse<String> http = shared.rpc(request);
                    assertEquals(http.body(), rpc.executeRpc(request, "/", "") + "\n", request);
                }
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[\"ipc\"],\"id\":1}",
                        rpc.executeRpc("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"ipc\"],\"id\":1}", "/", "alice"));
                assertEquals("[]", rpc.executeRpc("[]", "", ""), "an empty batch; an empty uri is /");
                assertEquals("null", rpc.executeRpc("{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}", "/", ""), "a notification");
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[],\"id\":1}",
                        rpc.executeRpc("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}", "/wallet/w1", ""));
                RpcException bad = assertThrows(RpcException.class,
                        () -> rpc.executeRpc("{\"method\":\"echo\",\"id\":1}", "/nowhere", ""));
                assertTrue(bad.getMessage().contains("unsupported uri '/nowhere' (use / or /wallet/<name>)"), bad.getMessage());
                // The connection is still good after a failed call.
                assertEquals("{\"result\":[],\"error\":null,\"id\":1}", rpc.executeRpc("{\"method\":\"echo\",\"id\":1}", "/", ""));
            }
        });
    }

    @Test
    void thirtyTwoClientsAtOnceThroughBothSockets() {
        assertTimeoutPreemptively(TEST, () -> {
            int clients = 32;
            CyclicBarrier allConnected = new CyclicBarrier(clients);
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int id = c;
                    Path socket = id % 2 == 0 ? nodeSock(shared) : shared.netDir().resolve("a/b/c.sock");
                    done.add(pool.submit(() -> {
                        try (Init init = connect(socket); Echo echo = init.makeEcho(); Rpc rpc = init.makeRpc()) {
                            allConnected.await(60, TimeUnit.SECONDS);
                            for (int i = 0; i < 50; i++) {
                                String text = "client " + id + " call " + i;
                                assertEquals(text, echo.echo(text));
                            }
                            assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[" + id + "],\"id\":" + id + "}",
                                    rpc.executeRpc("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[" + id + "],\"id\":" + id + "}", "/", ""));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) f.get(120, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
        });
    }

    @Test
    void socketsAreOwnerOnlyInOwnerOnlyDirectories() {
        assertTimeoutPreemptively(TEST, () -> {
            Path net = shared.netDir();
            for (Path socket : List.of(net.resolve("node.sock"), net.resolve("a/b/c.sock"))) {
                assertTrue(isSocket(socket), socket + " is a socket");
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)), socket.toString());
            }
            for (Path dir : List.of(net.resolve("a"), net.resolve("a/b"))) {
                assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)), "created " + dir);
            }
            assertTrue(shared.debugLog().contains("Listening for IPC requests on address unix:" + net.resolve("a/b/c.sock") + "\n"));
        });
    }

    /**
     * Clients that end cleanly, and clients whose socket closes while their call (an echoipc, which spawns a
     * child) runs, leave nothing behind in the node: no descriptor, no thread, no child process.
     */
    @Test
    void disconnectsLeaveNothingBehind() {
        assertTimeoutPreemptively(TEST, () -> {
            long pid = shared.pid();
            cleanAndUncleanClients(2);   // warm-up: classes loaded, lazily opened files opened
            Resources before = awaitSettled(pid, null);
            assertTrue(before.ipcThreads().stream().allMatch(t -> t.startsWith("ipc-accept-")),
                    "only the acceptors run between clients: " + before);
            int launchedBefore = count(shared.debugLog(), "launched");
            cleanAndUncleanClients(5);
            assertTrue(count(shared.debugLog(), "launched") >= launchedBefore + 5, "each unclean client's call was running");
            Resources after = awaitSettled(pid, before);
            assertEquals(before, after, "descriptors and IPC threads of the node before and after the clients");
            assertEquals(0, shared.process().children().count(), "every echoipc child reaped");
        });
    }

    private static void cleanAndUncleanClients(int rounds) throws Exception {
        for (int round = 0; round < rounds; round++) {
            try (Init init = connect(nodeSock(shared)); Echo echo = init.makeEcho(); Rpc rpc = init.makeRpc()) {
                assertEquals("clean", echo.echo("clean"));
                assertEquals("{\"result\":[1],\"error\":null,\"id\":1}", rpc.executeRpc("{\"method\":\"echo\",\"params\":[1],\"id\":1}", "/", ""));
            }
            // Unclean: the socket closes under a call in progress; no Finish, no Release.
            int launched = count(shared.debugLog(), "launched");
            Stream stream = IpcProcess.connect(new UnixAddress(nodeSock(shared)));
            Init init = new Protocol("ipc-test").connect(stream, "vanishing-client");
            Rpc rpc = init.makeRpc();
            CountDownLatch failed = new CountDownLatch(1);
            Thread caller = new Thread(() -> {
                try {
                    rpc.executeRpc("{\"method\":\"echoipc\",\"params\":[\"x\"],\"id\":1}", "/", "");
                } catch (RpcException e) {
                    failed.countDown();
                }
            });
            caller.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (count(shared.debugLog(), "launched") == launched) {
                assertTrue(System.nanoTime() < deadline, "the echoipc call never started");
                Thread.sleep(5);
            }
            stream.close();
            assertTrue(failed.await(30, TimeUnit.SECONDS), "the caller saw its connection go");
            caller.join();
            init.close();
        }
    }

    /** The node's open descriptors and its threads made for IPC (connection readers and writers, workers). */
    private record Resources(int fds, List<String> ipcThreads) {}

    private static Resources resources(long pid) throws IOException {
        int fds;
        try (java.util.stream.Stream<Path> list = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds = (int) list.count();
        }
        List<String> threads = new ArrayList<>();
        try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                String name;
                try {
                    name = Files.readString(task.resolve("comm")).strip();
                } catch (IOException e) {
                    continue;   // the thread ended while we listed
                }
                // Linux keeps 15 bytes of a thread's name: capnp-reader-ipc-, capnp-writer-..., bitcoin-node-<pid>/mp-worker-...
                if (name.startsWith("capnp-") || name.startsWith("ipc-") || name.startsWith("bitcoin-node-")) threads.add(name);
            }
        }
        threads.sort(null);
        return new Resources(fds, threads);
    }

    /**
     * Polls until two readings a while apart agree and equal {@code expected}, or without one, until only the
     * acceptor threads are left (calls of vanished clients finish in the background); up to 30 s.
     */
    private static Resources awaitSettled(long pid, Resources expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Resources last = resources(pid);
        while (true) {
            Thread.sleep(300);
            Resources now = resources(pid);
            boolean settled = now.equals(last) && (expected == null
                    ? now.ipcThreads().stream().allMatch(t -> t.startsWith("ipc-accept-")) : now.equals(expected));
            if (settled || System.nanoTime() > deadline) return now;
            last = now;
        }
    }

    private static int count(String text, String word) {
        Matcher m = Pattern.compile(Pattern.quote(word)).matcher(text);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    private static boolean isSocket(Path path) throws IOException {
        return ((int) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0140000;
    }

    @Test
    void connectionsBeyondTheLimitAreRefusedAndLoggedUntilOneEnds() {
        assertTimeoutPreemptively(TEST, () -> {
            TestNode node = TestNode.start(bin, "bitcoin-node", Files.createDirectories(bin.resolve("limit")),
                    "-ipcbind=unix", "-ipcmaxconnections=2");
            try {
                Init first = connect(nodeSock(node));
                Echo firstEcho = first.makeEcho();
                assertEquals("1", firstEcho.echo("1"));
                try (Init second = connect(nodeSock(node)); Echo echo = second.makeEcho()) {
                    assertEquals("2", echo.echo("2"));
                    for (int attempt = 0; attempt < 5; attempt++) {
                        try (Init third = connect(nodeSock(node))) {
                            // makeEcho is pipelined: its failure shows on the first call through it. The client
                            // wrote all of its calls before it read the refusal, and still learns the reason.
                            RpcException refused = assertThrows(RpcException.class, () -> third.makeEcho().echo("3"));
                            assertTrue(refused.getMessage().contains("too many IPC connections (-ipcmaxconnections=2)"), refused.getMessage());
                            assertEquals(RpcException.Type.DISCONNECTED, refused.type(), refused.getMessage());
                        }
                    }
                    awaitLog(node, "IPC server: connection refused: too many IPC connections (-ipcmaxconnections=2)\n", 5);
                    firstEcho.close();
                    first.close();
                    awaitLog(node, "IPC server: socket disconnected.", 1);
                    try (Init fourth = connect(nodeSock(node)); Echo again = fourth.makeEcho()) {
                        assertEquals("4", again.echo("4"));
                    }
                    assertEquals("2", echo.echo("2"), "the second client was never disturbed");
                }
            } finally {
                node.kill();
            }
        });
    }

    private static void awaitLog(TestNode node, String line, int times) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (count(node.debugLog(), line) < times) {
            assertTrue(System.nanoTime() < deadline, "no " + times + " x '" + line + "' in the log:\n" + node.debugLog());
            Thread.sleep(20);
        }
    }

    /** A stop sent over IPC is answered; idle clients do not delay the shutdown and learn why they were dropped. */
    @Test
    void stopOverIpcWithIdleClientsConnected() {
        assertTimeoutPreemptively(TEST, () -> {
            TestNode node = TestNode.start(bin, "bitcoin-node", Files.createDirectories(bin.resolve("idle")),
                    "-ipcbind=unix", "-ipcbind=unix:" + bin.resolve("idle-other.sock"));
            List<Init> idle = new ArrayList<>();
            List<Echo> echoes = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    Init init = connect(i % 2 == 0 ? nodeSock(node) : bin.resolve("idle-other.sock"));
                    idle.add(init);
                    Echo echo = init.makeEcho();
                    echoes.add(echo);
                    assertEquals("idle", echo.echo("idle"));
                }
                long start = System.nanoTime();
                try (Init init = connect(nodeSock(node)); Rpc rpc = init.makeRpc()) {
                    assertEquals("{\"result\":\"Bitcoin node stopping\",\"error\":null,\"id\":1}",
                            rpc.executeRpc("{\"method\":\"stop\",\"id\":1}", "/", ""));
                }
                assertTrue(node.awaitExit(PROMPT_EXIT), "the node stopped with idle IPC clients connected");
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertEquals(0, node.process().exitValue());
                assertEquals("", node.stderr());
                assertFalse(Files.exists(nodeSock(node), LinkOption.NOFOLLOW_LINKS), "node.sock removed");
                assertFalse(Files.exists(bin.resolve("idle-other.sock"), LinkOption.NOFOLLOW_LINKS), "second socket removed");
                RpcException dropped = assertThrows(RpcException.class, () -> echoes.get(0).echo("after"));
                assertEquals(RpcException.Type.DISCONNECTED, dropped.type());
                assertTrue(dropped.getMessage().contains("node is shutting down"), "told why: " + dropped.getMessage());
                assertTrue(node.debugLog().contains("Shutdown: done"), node.debugLog());
                System.out.println("stop over IPC with 4 idle clients: exited after " + millis + " ms");
            } finally {
                for (Init init : idle) init.close();
                node.kill();
            }
        });
    }

    /**
     * A client that stops reading while the node writes it a large reply (the node's writer is blocked on the
     * socket) does not hold up SIGTERM.
     */
    @Test
    void sigtermWithAClientBlockedInACall() {
        assertTimeoutPreemptively(TEST, () -> {
            TestNode node = TestNode.start(bin, "bitcoin-node", Files.createDirectories(bin.resolve("blocked")), "-ipcbind=unix");
            StalledReads stream = new StalledReads(IpcProcess.connect(new UnixAddress(nodeSock(node))));
            Init init = new Protocol("ipc-test").connect(stream, "stalled-client");
            try {
                Echo echo = init.makeEcho();
                assertEquals("ready", echo.echo("ready"));
                stream.stall();
                String big = "y".repeat(16 << 20);
                Thread caller = new Thread(() -> {
                    try {
                        echo.echo(big);
                    } catch (RpcException expected) {
                        // the node went away
                    }
                });
                caller.start();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (stream.readWhileStalled() == 0) {
                    assertTrue(System.nanoTime() < deadline, "the node never started its reply");
                    Thread.sleep(10);
                }
                Thread.sleep(200);   // the rest of the 16 MB cannot fit in the socket: the node's writer blocks
                long start = System.nanoTime();
                node.process().destroy();   // SIGTERM
                assertTrue(node.awaitExit(PROMPT_EXIT), "SIGTERM completed although a client does not read");
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertEquals(0, node.process().exitValue());
                assertEquals("", node.stderr());
                assertFalse(Files.exists(nodeSock(node), LinkOption.NOFOLLOW_LINKS), "node.sock removed");
                System.out.println("SIGTERM with a client blocked in a call: exited after " + millis + " ms");
                stream.resume();
                caller.join(30_000);
                assertFalse(caller.isAlive(), "the blocked caller was released");
            } finally {
                stream.resume();
                init.close();
                node.kill();
            }
        });
    }

    /** A stream whose reads can be held back, as a client that stops reading its socket. */
    private static final class StalledReads implements Stream {
        private final Stream inner;
        private final CountDownLatch resumed = new CountDownLatch(1);
        private volatile boolean stalled;
        private final AtomicLong readWhileStalled = new AtomicLong();

        StalledReads(Stream inner) {
            this.inner = inner;
        }

        void stall() {
            stalled = true;
        }

        void resume() {
            resumed.countDown();
        }

        long readWhileStalled() {
            return readWhileStalled.get();
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (stalled && readWhileStalled.get() > 0) {
                try {
                    resumed.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            int n = inner.read(dst);
            if (stalled && n > 0) readWhileStalled.addAndGet(n);
            return n;
        }

        @Override
        public void write(ByteBuffer[] srcs, int count) throws IOException {
            inner.write(srcs, count);
        }

        @Override
        public void close() throws IOException {
            resumed.countDown();
            inner.close();
        }
    }

    @Test
    void aStaleSocketIsReplacedButALiveOneIsNot() {
        assertTimeoutPreemptively(TEST, () -> {
            Path datadir = Files.createDirectories(bin.resolve("stale"));
            Path net = Files.createDirectories(datadir.resolve("regtest"));
            Path stale = net.resolve("node.sock");
            try (ServerSocketChannel previous = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                previous.bind(UnixDomainSocketAddress.of(stale));   // closed without removing the file: a crash
            }
            Path live = net.resolve("live.sock");
            try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                other.bind(UnixDomainSocketAddress.of(live));
                TestNode.Failed failed = TestNode.run(bin, "bitcoin-node", datadir, "-ipcbind=unix:live.sock");
                assertEquals(1, failed.exitCode());
                assertEquals("Error: Unable to bind to IPC address 'unix:live.sock'. another process is listening on " + live + "\n",
                        failed.stderr());
                assertTrue(isSocket(live), "the other process' socket is left alone");
                assertFalse(Files.exists(net.resolve(".cookie")), "no cookie left behind");
            }
            TestNode node = TestNode.start(bin, "bitcoin-node", datadir, "-ipcbind=unix");
            try {
                assertTrue(node.debugLog().contains("Listening for IPC requests on address unix:" + stale + "\n"));
                // Nobody listened on the old file: an answer proves it was replaced by the node's socket.
                try (Init init = connect(stale); Echo echo = init.makeEcho()) {
                    assertEquals("fresh", echo.echo("fresh"));
                }
            } finally {
                node.kill();
            }
        });
    }

    @Test
    void startupErrorsForAddressesThatCannotBeServed() {
        assertTimeoutPreemptively(TEST, () -> {
            Path datadir = Files.createDirectories(bin.resolve("errors"));
            Path net = Files.createDirectories(datadir.resolve("regtest"));
            Path blocker = Files.writeString(net.resolve("blocker"), "not a socket");

            TestNode.Failed notSocket = TestNode.run(bin, "bitcoin-node", datadir, "-ipcbind=unix:blocker");
            assertEquals(1, notSocket.exitCode());
            assertEquals("Error: Unable to bind to IPC address 'unix:blocker'. " + blocker
                    + " exists and is not a socket; remove it or choose another path\n", notSocket.stderr());
            assertEquals("not a socket", Files.readString(blocker), "the file is left alone");

            String tooLong = "/tmp/" + "d".repeat(100) + "/node.sock";
            TestNode.Failed longPath = TestNode.run(bin, "bitcoin-node", datadir, "-ipcbind=unix:" + tooLong);
            assertEquals(1, longPath.exitCode());
            assertEquals("Error: Unable to bind to IPC address 'unix:" + tooLong + "'. Unix address path \"" + tooLong
                    + "\" exceeded maximum socket path length\n", longPath.stderr());

            TestNode.Failed tcp = TestNode.run(bin, "bitcoin-node", datadir, "-ipcbind=tcp:127.0.0.1:1234");
            assertEquals(1, tcp.exitCode());
            assertEquals("Error: Unable to bind to IPC address 'tcp:127.0.0.1:1234'. Unrecognized address 'tcp:127.0.0.1:1234'\n",
                    tcp.stderr());

            TestNode.Failed limit = TestNode.run(bin, "bitcoin-node", datadir, "-ipcbind=unix", "-ipcmaxconnections=0");
            assertEquals(1, limit.exitCode());
            assertEquals("Error: Invalid value for -ipcmaxconnections: '0' (it must be at least 1)\n", limit.stderr());

            TestNode.Failed bitcoind = TestNode.run(bin, "bitcoind", datadir, "-ipcbind=unix");
            assertEquals(1, bitcoind.exitCode());
            assertEquals("Error: Invalid parameter -ipcbind\n", bitcoind.stderr());

            assertFalse(Files.exists(net.resolve("node.sock")), "nothing bound");
            assertFalse(Files.exists(net.resolve(".cookie")), "no cookie left behind");
        });
    }
}
