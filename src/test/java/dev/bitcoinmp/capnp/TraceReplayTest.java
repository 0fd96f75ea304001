package dev.bitcoinmp.capnp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.mp.MpConnection;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.capnproto.MessageReader;
import org.capnproto.ReaderOptions;
import org.capnproto.StructList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays the recorded conversation of a C++ libmultiprocess parent (client) and child (server)
 * ({@code echo-spawn}, see the traces' README) against our implementation: once with our server answering the
 * recorded client messages, once with our client talking to a fake server that answers with the recorded
 * server messages. Messages are compared field by field after decoding (never byte by byte: encoders may
 * lay segments out differently).
 */
class TraceReplayTest {

    static final Path TRACE_DIR = Path.of(System.getProperty("bitcoinmp.traces",
            "/work/shared/testdata/libmultiprocess-traces"), "echo-spawn");

    /** Bound on every single wait for a message or a state change. */
    static final Duration STEP = Duration.ofSeconds(10);
    /** Bound on a whole test. */
    static final Duration TEST = Duration.ofSeconds(60);

    static final long INIT_ID = 0x8838c700ba5cba65L;
    static final long THREAD_MAP_ID = 0xee5e37179ad9dc9dL;
    static final long THREAD_ID = 0x81c1e2600d0b56c5L;
    static final long ECHO_ID = 0xd36b89640dc94399L;

    /** The name the C++ parent gave its server thread, in 007. */
    static final String CPP_THREAD_NAME = "bitcoin-node-19573/echo_parent-19573";

    // ------------------------------------------------------------------------------------------------ (a)

    /**
     * Our server fed the recorded client messages in the recorded order, waiting for each recorded server
     * message before sending the client messages that follow it, answers with equivalent messages.
     */
    @Test
    void serverAnswersRecordedClientLikeTheCppChild(@TempDir Path tmp) throws Exception {
        List<TraceMessage> trace = loadTrace();
        List<List<TraceMessage>> steps = new ArrayList<>();
        for (TraceMessage m : trace) steps.add(List.of(m));
        replayAgainstOurServer(tmp, trace, steps);
    }

    /**
     * The same, with the client pipelining as far as the protocol lets it: it sends everything that does not
     * depend on an answer (bootstrap + construct, then finishes + makeThread + makeEcho + finish) in one go.
     */
    @Test
    void serverAnswersPipelinedRecordedClient(@TempDir Path tmp) throws Exception {
        List<TraceMessage> trace = loadTrace();
        List<List<TraceMessage>> steps = new ArrayList<>();
        // Client batches, each followed by the server messages the trace has before the next client batch.
        int[][] batches = {{1, 3}, {2, 4}, {5, 6, 7, 9, 10}, {8, 11, 13}, {12, 14}, {15, 16}, {17, 18}, {19, 20},
                {21, 22}};
        for (int[] batch : batches) {
            List<TraceMessage> step = new ArrayList<>();
            for (int n : batch) step.add(trace.get(n - 1));
            steps.add(step);
        }
        replayAgainstOurServer(tmp, trace, steps);
    }

    private void replayAgainstOurServer(Path tmp, List<TraceMessage> trace, List<List<TraceMessage>> steps) {
        assertTimeoutPreemptively(TEST, () -> {
            SocketChannel[] pair = unixSocketPair(tmp);
            ServerEvents events = new ServerEvents();
            MpConnection server = MpConnection.serve(new ChannelStream(pair[0]), new TraceInit(events), Init.class,
                    "trace-server");
            try (Peer client = new Peer(pair[1])) {
                Decoder decoder = new Decoder();
                for (List<TraceMessage> step : steps) {
                    if (step.get(0).c2s) {
                        // Client messages of this step, sent back to back (as the recorded bytes).
                        for (TraceMessage m : step) {
                            assertTrue(m.c2s, m.name);
                            decoder.describe(m.root(), true);  // note the question for its Return
                            client.send(m.bytes);
                        }
                    } else {
                        for (TraceMessage m : step) {
                            assertFalse(m.c2s, m.name);
                            Map<String, String> expected = decoder.describe(m.root(), false);
                            Frame ours = client.next();
                            assertNotNull(ours, "server closed the connection instead of sending " + m.name);
                            Map<String, String> actual = decoder.describe(ours.root(), false);
                            assertEquals(expected, actual, "our server's message in place of " + m.name);
                        }
                    }
                }
                // The client released the Echo (022); the server keeps Init (export 0), its ThreadMap (1), the
                // thread (2), and the client's ThreadMap (import 0). No question or answer is left.
                waitUntil(() -> Arrays.equals(server.rpc().tableSizes(), new int[] {0, 0, 1, 3}),
                        () -> "server tables (questions, answers, imports, exports) "
                                + Arrays.toString(server.rpc().tableSizes()));
                assertEquals(List.of("makeEcho", "echo hello", "destroy echo"), List.copyOf(events.lines));
                Thread worker = events.echoThread;
                assertNotNull(worker);
                assertTrue(worker.getName().endsWith(" (from " + CPP_THREAD_NAME + ")"), worker.getName());
                assertTrue(worker.isAlive(), "the server thread lives until released or disconnected");

                // The client closes its end: the server must end, sending nothing more.
                client.shutdownOutput();
                assertNull(client.next(), "no message after the client's last one; the server closes its end");
                assertTrue(server.awaitEnd(STEP.toMillis(), TimeUnit.MILLISECONDS), "server connection ended");
                assertEquals("[0, 0, 0, 0]", Arrays.toString(server.rpc().tableSizes()));
                worker.join(STEP.toMillis());
                assertFalse(worker.isAlive(), "the server thread ended with the connection");
                assertEquals(1, events.echoCloses.get(), "Echo destroyed exactly once");
                System.out.println("Init.close() calls on disconnect: " + events.initCloses.get());
            } finally {
                server.close();
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ (b)

    /**
     * Our client, making the calls the C++ parent made, against a fake server that answers with the recorded
     * server bytes: our client's messages are equivalent to the recorded client messages.
     */
    @Test
    void clientTalksToRecordedServerLikeTheCppParent(@TempDir Path tmp) throws Exception {
        List<TraceMessage> trace = loadTrace();
        assertTimeoutPreemptively(TEST, () -> {
            SocketChannel[] pair = unixSocketPair(tmp);
            ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "trace-fake-server");
                t.setDaemon(true);
                return t;
            });
            FakeServer fake = new FakeServer(new Peer(pair[1]), trace);
            Future<List<Map<String, String>>> script = executor.submit(fake::run);
            Init init = null;
            try {
                init = MpConnection.connect(new ChannelStream(pair[0]), Init.class, "trace-client");
                MpConnection client = MpConnection.of(init);
                // Bootstrap + construct were sent (pipelined); the fake answers them, and we see the Finishes.
                fake.await(fake.constructed, script);

                String expectedName = MpConnectionName.forCurrentThread();
                fake.expectedThreadName = expectedName;
                Echo echo = init.makeEcho();   // pipelined: makeThread, then makeEcho, no waiting
                fake.await(fake.echoMade, script);
                // 013 released our callbackThread export; wait until our client has handled it (export 0,
                // the ThreadMap, is left) so that the next call exports it afresh, as in the trace.
                waitUntil(() -> client.rpc().tableSizes()[3] == 1,
                        () -> "client tables " + Arrays.toString(client.rpc().tableSizes()));

                assertEquals("hello", echo.echo("hello"));
                waitUntil(() -> client.rpc().tableSizes()[3] == 1,
                        () -> "client tables " + Arrays.toString(client.rpc().tableSizes()));

                echo.close();  // Echo.destroy, then Release of the Echo
                waitUntil(() -> client.rpc().tableSizes()[3] == 1,
                        () -> "client tables " + Arrays.toString(client.rpc().tableSizes()));
                fake.await(fake.echoReleased, script);

                init.close();  // ends the connection
                init = null;
                assertTrue(client.awaitEnd(STEP.toMillis(), TimeUnit.MILLISECONDS), "client connection ended");
                assertEquals("[0, 0, 0, 0]", Arrays.toString(client.rpc().tableSizes()));

                List<Map<String, String>> tail = script.get(STEP.toMillis(), TimeUnit.MILLISECONDS);
                System.out.println("construct target: " + fake.constructTarget + ", sent before the bootstrap answer: "
                        + fake.constructBeforeBootstrapAnswer + "; after the trace: " + tail);
                // After the trace's last message the C++ parent just closed the socket. Ours first releases the
                // other imports: Init (0), ThreadMap (1), Thread (2), each once with count 1 - harmless extras.
                List<String> releases = new ArrayList<>();
                for (Map<String, String> m : tail) {
                    assertEquals("release", m.get("kind"), "only Releases after the trace's end: " + tail);
                    assertEquals("1", m.get("referenceCount"), m.toString());
                    releases.add(m.get("id"));
                }
                releases.sort(null);
                assertEquals(List.of("0", "1", "2"), releases, "tail " + tail);
            } finally {
                if (init != null) init.close();
                executor.shutdownNow();
                fake.peer.close();
            }
        });
    }

    /**
     * A call pipelined on an unanswered promise must go out at once, without waiting for the answer: the C++
     * parent wrote construct before the bootstrap answer came (003 targets promisedAnswer(q0)), and a server may
     * well wait for it. At commit dcc6284 our client queued such a call under the connection lock (where flush()
     * does nothing) and wrote it only when something else flushed (typically the Finish sent once the bootstrap
     * answer arrived), so here, with a server that has not answered the bootstrap yet, construct never reached
     * the wire. Regression test for that.
     */
    @Test
    void pipelinedCallIsWrittenBeforeThePromiseResolves(@TempDir Path tmp) throws Exception {
        List<TraceMessage> trace = loadTrace();
        assertTimeoutPreemptively(TEST, () -> {
            SocketChannel[] pair = unixSocketPair(tmp);
            Init init = null;
            try (Peer server = new Peer(pair[1])) {
                init = MpConnection.connect(new ChannelStream(pair[0]), Init.class, "pipelining-client");
                Decoder ours = new Decoder();
                Decoder recorded = new Decoder();
                assertEquals(recorded.describe(trace.get(0).root(), true), ours.describe(server.next().root(), true));
                Frame construct = server.next(Duration.ofSeconds(3));
                assertNotNull(construct, "connection ended");
                assertEquals(recorded.describe(trace.get(2).root(), true), ours.describe(construct.root(), true),
                        "construct, pipelined on the unanswered bootstrap");
            } finally {
                if (init != null) init.close();
            }
        });
    }

    /** The name our client gives a server thread made for the calling thread. */
    static final class MpConnectionName {
        static String forCurrentThread() {
            Thread t = Thread.currentThread();
            return MpConnection.Options.defaults().exeName() + "-" + ProcessHandle.current().pid() + "/"
                    + t.getName() + "-" + t.threadId();
        }
    }

    /**
     * Reads our client's messages, compares each with the recorded client message it stands for, and answers
     * with the recorded server messages at the moments the C++ server sent them.
     */
    static final class FakeServer {
        final Peer peer;
        final List<TraceMessage> trace;
        final Decoder traceDecoder = new Decoder();
        final Decoder ourDecoder = new Decoder();
        final Map<Integer, Map<String, String>> expected = new HashMap<>();
        final java.util.concurrent.CountDownLatch constructed = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch echoMade = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch echoReleased = new java.util.concurrent.CountDownLatch(1);
        volatile String expectedThreadName;
        /** The target our client gave construct: the trace's promisedAnswer, or importedCap 0 in a race. */
        volatile String constructTarget;
        /** Whether construct reached the wire before the bootstrap was answered (it should). */
        volatile boolean constructBeforeBootstrapAnswer;

        FakeServer(Peer peer, List<TraceMessage> trace) {
            this.peer = peer;
            this.trace = trace;
            // The recorded client messages, decoded in the trace's own context.
            for (TraceMessage m : trace) {
                Map<String, String> d = traceDecoder.describe(m.root(), m.c2s);
                if (m.c2s) expected.put(m.number, d);
            }
        }

        List<Map<String, String>> run() throws Exception {
            // Our client sends construct right after bootstrap, pipelined on the bootstrap answer: it should be on
            // the wire before the bootstrap is answered. If our client holds such calls back until something else
            // flushes (the bug pipelinedCallIsWrittenBeforeThePromiseResolves checks for), it only comes once the
            // bootstrap is answered (as the C++ child did at once), and then, in a race, may target import 0.
            expect(1);
            Frame early = peer.poll(Duration.ofSeconds(1));
            constructBeforeBootstrapAnswer = early != null;
            if (early != null) {
                expect(3, early);
                send(2);
            } else {
                send(2);
                expect(3);
            }
            send(4);
            expect(5);
            expect(6);
            constructed.countDown();

            // makeThread (on the ThreadMap import, as the construct answer is in) and makeEcho with the thread
            // as receiverAnswer of the unanswered makeThread.
            expect(7);
            expect(9);
            send(8);
            expect(10);
            send(11);
            expect(12);
            send(13);
            echoMade.countDown();

            expect(14);
            send(15);
            send(16);
            expect(17);

            expect(18);
            send(19);
            send(20);
            expect(21);
            expect(22);
            echoReleased.countDown();

            List<Map<String, String>> tail = new ArrayList<>();
            while (true) {
                Frame f = peer.next();
                if (f == null) return tail;
                tail.add(ourDecoder.describe(f.root(), true));
            }
        }

        private void expect(int number) throws Exception {
            expect(number, peer.next());
        }

        private void expect(int number, Frame f) throws Exception {
            assertNotNull(f, "our client closed the connection instead of sending " + trace.get(number - 1).name);
            Map<String, String> ours = ourDecoder.describe(f.root(), true);
            Map<String, String> recorded = new LinkedHashMap<>(expected.get(number));
            if (number == 3 && "importedCap 0".equals(ours.get("target"))) {
                // The bootstrap answer was in when our client wrote construct: the resolved import is the target.
                constructTarget = "importedCap 0";
                ours = new LinkedHashMap<>(ours);
                ours.put("target", recorded.get("target"));
            } else if (number == 3) {
                constructTarget = ours.get("target");
            }
            if (number == 7) {
                // The name is the caller's: ours is "<exe>-<pid>/<thread>-<tid>" like C++'s, for our thread.
                assertEquals(quote(CPP_THREAD_NAME), recorded.get("params.name"));
                assertEquals(quote(expectedThreadName), ours.get("params.name"), "makeThread name");
                recorded.put("params.name", "<caller's thread name>");
                ours = new LinkedHashMap<>(ours);
                ours.put("params.name", "<caller's thread name>");
            }
            assertEquals(recorded, ours, "our client's message in place of " + trace.get(number - 1).name);
        }

        private void send(int number) throws IOException {
            TraceMessage m = trace.get(number - 1);
            assertFalse(m.c2s, m.name);
            peer.send(m.bytes);
        }

        void await(java.util.concurrent.CountDownLatch latch, Future<?> script) throws Exception {
            long deadline = System.nanoTime() + STEP.toNanos();
            while (!latch.await(10, TimeUnit.MILLISECONDS)) {
                if (script.isDone()) {
                    script.get();  // throws the script's failure
                    fail("fake server ended early");
                }
                if (System.nanoTime() > deadline) throw new TimeoutException("fake server did not get there");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ server

    static final class ServerEvents {
        final Queue<String> lines = new ConcurrentLinkedQueue<>();
        final AtomicInteger echoCloses = new AtomicInteger();
        final AtomicInteger initCloses = new AtomicInteger();
        volatile Thread echoThread;
    }

    static final class TraceInit implements Init {
        private final ServerEvents events;

        TraceInit(ServerEvents events) {
            this.events = events;
        }

        @Override
        public Echo makeEcho() {
            events.lines.add("makeEcho");
            return new Echo() {
                @Override
                public String echo(String echo) {
                    events.lines.add("echo " + echo);
                    events.echoThread = Thread.currentThread();
                    return echo;
                }

                @Override
                public void close() {
                    events.lines.add("destroy echo");
                    events.echoCloses.incrementAndGet();
                }
            };
        }

        @Override
        public void close() {
            events.initCloses.incrementAndGet();
        }
    }

    // ------------------------------------------------------------------------------------------------ trace

    record TraceMessage(int number, String name, boolean c2s, byte[] bytes) {
        StructIn root() {
            try {
                Frame f = Frames.read(Channels.newChannel(new java.io.ByteArrayInputStream(bytes)), true);
                assertNotNull(f, name);
                return f.root();
            } catch (IOException e) {
                throw new AssertionError(name + ": " + e, e);
            }
        }
    }

    static List<TraceMessage> loadTrace() throws IOException {
        List<Path> files;
        try (var s = Files.list(TRACE_DIR)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".bin")).sorted().toList();
        }
        assertEquals(22, files.size(), "echo-spawn has 22 messages");
        List<TraceMessage> trace = new ArrayList<>();
        for (Path p : files) {
            String name = p.getFileName().toString();
            int number = Integer.parseInt(name.substring(0, 3));
            assertEquals(trace.size() + 1, number, name);
            boolean c2s = name.contains(".c2s.");
            assertTrue(c2s || name.contains(".s2c."), name);
            trace.add(new TraceMessage(number, name, c2s, Files.readAllBytes(p)));
        }
        return trace;
    }

    // ------------------------------------------------------------------------------------------------ framing

    record Frame(MessageReader message) {
        StructIn root() {
            return message.getRoot(AnyStruct.READER);
        }
    }

    /** The standard stream framing, read independently of the project's FrameReader. */
    static final class Frames {
        /** One frame, or null at a clean end of stream; {@code whole} demands the stream end right after. */
        static Frame read(ReadableByteChannel in, boolean whole) throws IOException {
            ByteBuffer first = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            if (!readFully(in, first, true)) return null;
            int segments = first.getInt(0) + 1;
            if (segments <= 0 || segments > 512) throw new IOException("bad segment count " + segments);
            ByteBuffer sizes = ByteBuffer.allocate(4 * segments + (segments % 2 == 0 ? 4 : 0))
                    .order(ByteOrder.LITTLE_ENDIAN);
            readFully(in, sizes, false);
            ByteBuffer[] segs = new ByteBuffer[segments];
            for (int i = 0; i < segments; i++) {
                int words = sizes.getInt(4 * i);
                if (words < 0 || words > (1 << 20)) throw new IOException("bad segment size " + words);
                ByteBuffer seg = ByteBuffer.allocate(8 * words).order(ByteOrder.LITTLE_ENDIAN);
                readFully(in, seg, false);
                seg.flip();
                segs[i] = seg;
            }
            if (whole && in.read(ByteBuffer.allocate(1)) != -1) throw new IOException("bytes after the frame");
            return new Frame(new MessageReader(segs, ReaderOptions.DEFAULT_READER_OPTIONS));
        }

        private static boolean readFully(ReadableByteChannel in, ByteBuffer dst, boolean eofAllowed) throws IOException {
            boolean any = false;
            while (dst.hasRemaining()) {
                int n = in.read(dst);
                if (n < 0) {
                    if (eofAllowed && !any) return false;
                    throw new IOException("stream ended inside a frame");
                }
                if (n > 0) any = true;
            }
            return true;
        }
    }

    /** The test's end of the socket: frames are read by a thread of their own, and taken with a timeout. */
    static final class Peer implements AutoCloseable {
        private static final Object EOF = new Object();
        private final SocketChannel channel;
        private final LinkedBlockingQueue<Object> inbound = new LinkedBlockingQueue<>();
        private final Thread reader;

        Peer(SocketChannel channel) {
            this.channel = channel;
            this.reader = new Thread(this::readLoop, "trace-peer-reader");
            reader.setDaemon(true);
            reader.start();
        }

        private void readLoop() {
            try {
                while (true) {
                    Frame f = Frames.read(channel, false);
                    if (f == null) break;
                    inbound.add(f);
                }
                inbound.add(EOF);
            } catch (IOException | RuntimeException e) {
                inbound.add(e);
            }
        }

        /** The next message, or null at end of stream; fails after {@link #STEP}. */
        Frame next() throws Exception {
            return next(STEP);
        }

        /** The next message, or null if none came within {@code timeout}; fails at end of stream. */
        Frame poll(Duration timeout) throws Exception {
            Object o = inbound.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (o == null) return null;
            Frame f = unwrap(o);
            if (f == null) throw new AssertionError("stream ended");
            return f;
        }

        Frame next(Duration timeout) throws Exception {
            Object o = inbound.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (o == null) throw new TimeoutException("no message within " + timeout);
            return unwrap(o);
        }

        private Frame unwrap(Object o) {
            if (o == EOF) {
                inbound.add(EOF);
                return null;
            }
            if (o instanceof Exception e) throw new AssertionError("reading a frame failed: " + e, e);
            return (Frame) o;
        }

        void send(byte[] bytes) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) channel.write(b);
        }

        void shutdownOutput() throws IOException {
            channel.shutdownOutput();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    static SocketChannel[] unixSocketPair(Path tmp) throws IOException {
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(tmp.resolve("s"));
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(address);
            SocketChannel a = SocketChannel.open(address);
            SocketChannel b = listener.accept();
            return new SocketChannel[] {b, a};   // [0] the accepting (server) side, [1] the connecting side
        }
    }

    static void waitUntil(BooleanSupplier condition, java.util.function.Supplier<String> what) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out waiting for: " + what.get());
            Thread.sleep(5);
        }
    }

    // ------------------------------------------------------------------------------------------------ decoding

    enum Kind { CAP, TEXT, CONTEXT }

    record Field(String name, int pointer, Kind kind) {}

    /** Layout of one method's parameters and results (IPC-FACTS section 4); a pointer of -1 is the content. */
    record Shape(String method, List<Field> params, List<Field> results) {}

    static final Shape BOOTSTRAP = new Shape("bootstrap", List.of(), List.of(new Field("bootstrap", -1, Kind.CAP)));
    static final Map<String, Shape> SHAPES = Map.of(
            key(INIT_ID, 0), new Shape("Init.construct",
                    List.of(new Field("threadMap", 0, Kind.CAP)), List.of(new Field("threadMap", 0, Kind.CAP))),
            key(INIT_ID, 1), new Shape("Init.makeEcho",
                    List.of(new Field("context", 0, Kind.CONTEXT)), List.of(new Field("result", 0, Kind.CAP))),
            key(THREAD_MAP_ID, 0), new Shape("ThreadMap.makeThread",
                    List.of(new Field("name", 0, Kind.TEXT)), List.of(new Field("result", 0, Kind.CAP))),
            key(THREAD_ID, 0), new Shape("Thread.getName", List.of(), List.of(new Field("result", 0, Kind.TEXT))),
            key(ECHO_ID, 0), new Shape("Echo.destroy", List.of(new Field("context", 0, Kind.CONTEXT)), List.of()),
            key(ECHO_ID, 1), new Shape("Echo.echo",
                    List.of(new Field("context", 0, Kind.CONTEXT), new Field("echo", 1, Kind.TEXT)),
                    List.of(new Field("result", 0, Kind.TEXT))));

    static String key(long interfaceId, int methodId) {
        return Long.toHexString(interfaceId) + "/" + methodId;
    }

    static String quote(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }

    /**
     * Turns an RPC message into a flat map of its fields, with payload contents read through the method's
     * schema and capability pointers replaced by their descriptors. Remembers the client's questions so that
     * the Returns answering them can be read with the right result layout.
     */
    static final class Decoder {
        private final Map<Integer, Shape> questions = new HashMap<>();

        Map<String, String> describe(StructIn root, boolean fromClient) {
            Map<String, String> d = new LinkedHashMap<>();
            short tag = root.getShort(0);
            StructIn body = root.getStruct(0);
            switch (tag) {
                case RpcSchema.BOOTSTRAP -> {
                    d.put("kind", "bootstrap");
                    d.put("questionId", u32(body.getInt(0)));
                    if (fromClient) questions.put(body.getInt(0), BOOTSTRAP);
                }
                case RpcSchema.CALL -> {
                    d.put("kind", "call");
                    int qid = body.getInt(0);
                    long iface = body.getLong(RpcSchema.CALL_IFACE_LONG);
                    int method = body.getShort(RpcSchema.CALL_METHOD_SHORT) & 0xffff;
                    Shape shape = SHAPES.get(key(iface, method));
                    d.put("questionId", u32(qid));
                    d.put("target", target(body.getStruct(RpcSchema.CALL_TARGET)));
                    d.put("interfaceId", "0x" + Long.toHexString(iface));
                    d.put("methodId", Integer.toString(method));
                    d.put("method", shape == null ? "?" : shape.method());
                    d.put("sendResultsTo", switch (body.getShort(RpcSchema.CALL_SEND_TO_SHORT)) {
                        case 0 -> "caller";
                        case 1 -> "yourself";
                        case 2 -> "thirdParty";
                        default -> "tag " + body.getShort(RpcSchema.CALL_SEND_TO_SHORT);
                    });
                    d.put("allowThirdPartyTailCall", Boolean.toString(body.getBool(128)));
                    payload(d, "params", body.getStruct(RpcSchema.CALL_PARAMS), shape == null ? null : shape.params());
                    if (fromClient) questions.put(qid, shape == null ? new Shape("?", List.of(), List.of()) : shape);
                }
                case RpcSchema.RETURN -> {
                    d.put("kind", "return");
                    int id = body.getInt(0);
                    Shape shape = fromClient ? null : questions.get(id);
                    d.put("answerId", u32(id));
                    d.put("answers", shape == null ? "?" : shape.method());
                    d.put("releaseParamCaps", Boolean.toString(!body.getBool(RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT)));
                    d.put("noFinishNeeded", Boolean.toString(body.getBool(33)));
                    short which = body.getShort(RpcSchema.RETURN_TAG_SHORT);
                    switch (which) {
                        case RpcSchema.RET_RESULTS -> {
                            d.put("which", "results");
                            payload(d, "results", body.getStruct(0), shape == null ? null : shape.results());
                        }
                        case RpcSchema.RET_EXCEPTION -> {
                            d.put("which", "exception");
                            StructIn e = body.getStruct(0);
                            d.put("exception.type", Short.toString(e.getShort(RpcSchema.EXCEPTION_TYPE_SHORT)));
                            d.put("exception.reason", quote(e.getText(0)));
                        }
                        default -> d.put("which", "tag " + which);
                    }
                }
                case RpcSchema.FINISH -> {
                    d.put("kind", "finish");
                    d.put("questionId", u32(body.getInt(0)));
                    d.put("releaseResultCaps", Boolean.toString(!body.getBool(RpcSchema.FINISH_RELEASE_RESULT_CAPS_BIT)));
                }
                case RpcSchema.RELEASE -> {
                    d.put("kind", "release");
                    d.put("id", u32(body.getInt(0)));
                    d.put("referenceCount", u32(body.getInt(1)));
                }
                case RpcSchema.ABORT -> {
                    d.put("kind", "abort");
                    d.put("reason", quote(body.getText(0)));
                }
                default -> d.put("kind", "tag " + tag);
            }
            return d;
        }

        private static void payload(Map<String, String> d, String prefix, StructIn payload, List<Field> fields) {
            StructList.Reader<StructIn> table = payload.getStructList(1);
            List<String> descriptors = new ArrayList<>();
            for (int i = 0; i < table.size(); i++) descriptors.add(descriptor(table.get(i)));
            d.put(prefix + ".capTable", descriptors.toString());
            if (fields == null) {
                d.put(prefix + ".content", "? (unknown method)");
                return;
            }
            boolean contentIsCap = fields.size() == 1 && fields.get(0).pointer() < 0;
            if (contentIsCap) {
                d.put(prefix + "." + fields.get(0).name(), cap(payload.getCapIndex(0), descriptors));
                return;
            }
            StructIn content = payload.getStruct(0);
            boolean[] known = new boolean[Math.max(content.pointerCount(), 1)];
            for (Field f : fields) {
                if (f.pointer() >= 0 && f.pointer() < known.length) known[f.pointer()] = true;
                String value = switch (f.kind()) {
                    case CAP -> cap(content.getCapIndex(f.pointer()), descriptors);
                    case TEXT -> quote(content.getTextOrNull(f.pointer()));
                    case CONTEXT -> {
                        StructIn ctx = content.getStruct(f.pointer());
                        yield "(thread=" + cap(ctx.getCapIndex(0), descriptors)
                                + ", callbackThread=" + cap(ctx.getCapIndex(1), descriptors) + ")";
                    }
                };
                d.put(prefix + "." + f.name(), value);
            }
            // Anything the schema does not have must be absent (data is all zero, no other pointer set).
            List<String> extra = new ArrayList<>();
            for (int i = 0; i < content.pointerCount(); i++) {
                if (!known[i] && content.hasPointer(i)) extra.add("ptr" + i);
            }
            for (int i = 0; i < content.dataBits() / 64; i++) if (content.getLong(i) != 0) extra.add("data" + i);
            d.put(prefix + ".unknownFields", extra.toString());
        }

        private static String cap(int index, List<String> descriptors) {
            if (index < 0) return "null";
            if (index >= descriptors.size()) return "cap#" + index + " (outside the table)";
            return "cap#" + index + "=" + descriptors.get(index);
        }

        private static String descriptor(StructIn c) {
            short tag = c.getShort(0);
            int id = c.getInt(RpcSchema.CAPDESC_ID_INT);
            int fd = (c.getByte(RpcSchema.CAPDESC_FD_BYTE) ^ 0xff) & 0xff;
            String what = switch (tag) {
                case RpcSchema.CAP_NONE -> "none";
                case RpcSchema.CAP_SENDER_HOSTED -> "senderHosted " + u32(id);
                case RpcSchema.CAP_SENDER_PROMISE -> "senderPromise " + u32(id);
                case RpcSchema.CAP_RECEIVER_HOSTED -> "receiverHosted " + u32(id);
                case RpcSchema.CAP_RECEIVER_ANSWER -> "receiverAnswer " + promised(c.getStruct(0));
                case RpcSchema.CAP_THIRD_PARTY -> "thirdPartyHosted";
                default -> "tag " + tag;
            };
            return "(" + what + ", attachedFd=" + fd + ")";
        }

        private static String target(StructIn t) {
            short tag = t.getShort(RpcSchema.TARGET_TAG_SHORT);
            return switch (tag) {
                case RpcSchema.TARGET_IMPORTED -> "importedCap " + u32(t.getInt(0));
                case RpcSchema.TARGET_PROMISED -> "promisedAnswer " + promised(t.getStruct(0));
                default -> "tag " + tag;
            };
        }

        private static String promised(StructIn p) {
            StructList.Reader<StructIn> ops = p.getStructList(0);
            List<String> transform = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                StructIn op = ops.get(i);
                short tag = op.getShort(0);
                transform.add(tag == RpcSchema.OP_NOOP ? "noop"
                        : tag == RpcSchema.OP_GET_POINTER_FIELD ? "getPointerField " + (op.getShort(1) & 0xffff)
                        : "tag " + tag);
            }
            return "(questionId=" + u32(p.getInt(0)) + ", transform=" + transform + ")";
        }

        private static String u32(int v) {
            return Integer.toUnsignedString(v);
        }
    }
}
