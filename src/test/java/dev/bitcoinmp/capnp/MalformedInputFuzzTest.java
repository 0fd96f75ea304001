package dev.bitcoinmp.capnp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.mp.MpConnection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.capnproto.MessageBuilder;
import org.capnproto.MessageReader;
import org.capnproto.ReaderOptions;
import org.capnproto.StructList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Deterministic fuzzing of the server side of a connection: one Java process serves {@link Init} on a unix
 * socket and thousands of client connections each send one kind of malformed input (truncated or bit-flipped
 * recorded messages, oversized frame headers, random bytes, random segment content, deep or looping pointers,
 * protocol violations). Every connection must end with an Abort and/or a close within a bounded time (or a
 * normal answer for input that happens to be valid), nothing may escape to the uncaught-exception handler,
 * the server must go on serving proper clients, and threads, descriptors and heap must come back to where
 * they were.
 */
class MalformedInputFuzzTest {

    /** Small enough that the limits are reachable: 1 Mi words (8 MiB) per frame. */
    private static final ReaderLimits LIMITS = new ReaderLimits(1 << 20, 2 << 20, 64, 512);
    private static final MpConnection.Options OPTIONS = new MpConnection.Options("fuzz", LIMITS, null);
    private static final long TIMEOUT_MS = 5000;
    private static final long PROMPT_MS = 2000;
    private static final int MAX_TIMEOUTS = 10;
    /** The recorded client messages (-Dbitcoinmp.traces, else shared/ beside the work tree, else /work/shared). */
    private static final Path SEEDS = seedDir();

    private static Path seedDir() {
        String property = System.getProperty("bitcoinmp.traces");
        if (property != null) return Path.of(property, "echo-spawn");
        Path beside = Path.of("..", "shared", "testdata", "libmultiprocess-traces", "echo-spawn");
        if (Files.isDirectory(beside)) return beside;
        return Path.of("/work/shared/testdata/libmultiprocess-traces/echo-spawn");
    }

    private static final long INIT_ID = 0x8838c700ba5cba65L;
    private static final long ECHO_ID = 0xd36b89640dc94399L;
    private static final long THREAD_MAP_ID = 0xee5e37179ad9dc9dL;

    private Path dir;
    private UnixDomainSocketAddress address;
    private ServerSocketChannel listener;
    private Thread acceptor;
    private ScheduledThreadPoolExecutor watchdog;
    private final Set<MpConnection> live = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<String> uncaught = Collections.synchronizedList(new ArrayList<>());
    private Thread.UncaughtExceptionHandler previousHandler;
    private volatile String currentCase = "setup";

    private final List<String> failures = new ArrayList<>();
    private final Map<String, Stats> stats = new LinkedHashMap<>();
    private int timeouts;

    // ------------------------------------------------------------------------------------------ server

    /** The echoing Echo; "sleep:N" first sleeps N ms (to keep an answer pending on purpose). */
    static final class EchoImpl implements Echo {
        @Override
        public String echo(String echo) {
            if (echo.startsWith("sleep:")) {
                try {
                    Thread.sleep(Long.parseLong(echo.substring(6)));
                } catch (InterruptedException e) {
                    throw new IllegalStateException("interrupted");
                }
            }
            return echo;
        }

        @Override
        public void close() {}
    }

    static final class InitImpl implements Init {
        @Override
        public Echo makeEcho() {
            return new EchoImpl();
        }
    }

    @BeforeEach
    void startServer() throws IOException {
        previousHandler = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            java.io.StringWriter trace = new java.io.StringWriter();
            e.printStackTrace(new java.io.PrintWriter(trace));
            uncaught.add("[" + currentCase + "] thread " + t.getName() + ": " + trace);
        });
        dir = Files.createTempDirectory("mp-fuzz");
        address = UnixDomainSocketAddress.of(dir.resolve("s"));
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(address);
        acceptor = Thread.ofPlatform().daemon().name("fuzz-acceptor").start(() -> {
            while (true) {
                SocketChannel channel;
                try {
                    channel = listener.accept();
                } catch (IOException e) {
                    return;
                }
                try {
                    MpConnection connection = MpConnection.serve(new ChannelStream(channel), new InitImpl(), Init.class,
                            "fuzz-" + accepted.incrementAndGet(), OPTIONS);
                    live.add(connection);
                    connection.rpc().onDisconnect(() -> live.remove(connection));
                } catch (IOException | RuntimeException e) {
                    uncaught.add("[" + currentCase + "] serve failed: " + e);
                    try {
                        channel.close();
                    } catch (IOException ignored) {
                        // nothing to do
                    }
                }
            }
        });
        watchdog = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "fuzz-watchdog");
            t.setDaemon(true);
            return t;
        });
        watchdog.setRemoveOnCancelPolicy(true);
        watchdog.prestartAllCoreThreads();
    }

    @AfterEach
    void stopServer() throws Exception {
        listener.close();
        acceptor.join(5000);
        for (MpConnection connection : live) connection.close();
        watchdog.shutdownNow();
        watchdog.awaitTermination(5, TimeUnit.SECONDS);
        Files.deleteIfExists(dir.resolve("s"));
        Files.deleteIfExists(dir);
        Thread.setDefaultUncaughtExceptionHandler(previousHandler);
    }

    // ------------------------------------------------------------------------------------------ client

    /** A message the server sent. */
    record Msg(short tag, StructIn root) {
        StructIn body() {
            return root.getStruct(0);
        }

        String abortReason() {
            return body().getText(0);
        }

        @Override
        public String toString() {
            return switch (tag) {
                case RpcSchema.ABORT -> "Abort(" + abortReason() + ")";
                case RpcSchema.RETURN -> "Return(" + body().getInt(0) + ", kind " + body().getShort(RpcSchema.RETURN_TAG_SHORT)
                        + (body().getShort(RpcSchema.RETURN_TAG_SHORT) == RpcSchema.RET_EXCEPTION ? ": " + body().getStruct(0).getText(0) : "") + ")";
                case RpcSchema.UNIMPLEMENTED -> "Unimplemented(tag " + body().getShort(0) + ")";
                case RpcSchema.RELEASE -> "Release(" + body().getInt(0) + ")";
                default -> "Message(tag " + tag + ")";
            };
        }
    }

    /** What one connection saw. */
    record Result(List<Msg> messages, int base, boolean closedByServer, boolean timedOut, boolean writeFailed, long millis, int bytes) {
        /** What came back after the last step was sent. */
        List<Msg> tail() {
            return messages.subList(base, messages.size());
        }

        boolean aborted() {
            return messages.stream().anyMatch(m -> m.tag == RpcSchema.ABORT);
        }

        Msg abort() {
            return messages.stream().filter(m -> m.tag == RpcSchema.ABORT).findFirst().orElse(null);
        }

        Msg first(short tag) {
            return messages.stream().filter(m -> m.tag == tag).findFirst().orElse(null);
        }

        @Override
        public String toString() {
            return (timedOut ? "TIMED OUT " : "") + (closedByServer ? "closed " : "open ") + "after " + millis + " ms, "
                    + bytes + " bytes back: " + (base > 0 ? messages.subList(0, base) + " then " + tail() : messages);
        }
    }

    /** Bytes to send, then (unless null) what to wait for before sending the next step. */
    record Step(byte[] bytes, Predicate<List<Msg>> waitFor) {}

    private Result exchange(byte[] input, boolean halfClose, Predicate<List<Msg>> done, long timeoutMs) throws IOException {
        return exchange(List.of(new Step(input, null)), halfClose, done, timeoutMs);
    }

    /**
     * Connects, sends the steps (each after what the one before waits for came back), half-closes when
     * {@code halfClose}, then reads until the server closes, {@code done} holds for what came back, or the
     * timeout (the watchdog then closes the socket).
     */
    private Result exchange(List<Step> steps, boolean halfClose, Predicate<List<Msg>> done, long timeoutMs) throws IOException {
        long start = System.nanoTime();
        SocketChannel channel = SocketChannel.open(address);
        AtomicBoolean timedOut = new AtomicBoolean();
        ScheduledFuture<?> alarm = watchdog.schedule(() -> {
            timedOut.set(true);
            try {
                channel.close();
            } catch (IOException ignored) {
                // the reader notices
            }
        }, timeoutMs, TimeUnit.MILLISECONDS);
        Reading reading = new Reading(channel);
        boolean writeFailed = false;
        try {
            for (Step step : steps) {
                reading.base = reading.messages.size();
                try {
                    ByteBuffer out = ByteBuffer.wrap(step.bytes);
                    while (out.hasRemaining()) channel.write(out);
                } catch (IOException e) {
                    writeFailed = true;  // the server closed early; what it said is still to be read
                    break;
                }
                if (step.waitFor != null && !reading.until(step.waitFor)) break;
            }
            if (halfClose && !writeFailed && !reading.ended) {
                try {
                    channel.shutdownOutput();
                } catch (IOException ignored) {
                    // closed meanwhile
                }
            }
            if (!reading.ended) reading.until(done);
        } finally {
            alarm.cancel(false);
            channel.close();
        }
        return new Result(reading.messages, reading.base, reading.closedByServer && !timedOut.get(), timedOut.get(), writeFailed,
                (System.nanoTime() - start) / 1_000_000, reading.received.size());
    }

    /** What a client has read so far. */
    private static final class Reading {
        final SocketChannel channel;
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final List<Msg> messages = new ArrayList<>();
        final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        int parsed;
        int base;   // conditions look at what came after the last step was sent
        boolean ended, closedByServer;

        Reading(SocketChannel channel) {
            this.channel = channel;
        }

        /** Reads until {@code condition} holds (true) or the stream ends (false); null: until the end. */
        boolean until(Predicate<List<Msg>> condition) {
            while (true) {
                if (condition != null && condition.test(messages.subList(base, messages.size()))) return true;
                if (ended) return false;
                in.clear();
                int n;
                try {
                    n = channel.read(in);
                } catch (IOException e) {
                    // A reset counts as a close; the watchdog's close is told apart by the caller.
                    ended = closedByServer = true;
                    return false;
                }
                if (n < 0) {
                    ended = closedByServer = true;
                    return false;
                }
                if (received.size() < (64 << 20)) {
                    received.write(in.array(), 0, n);
                    parsed = parseFrames(received.toByteArray(), parsed, messages);
                }
            }
        }
    }

    /** Parses the whole frames in {@code data} from {@code from} on; returns where parsing stopped. */
    private static int parseFrames(byte[] data, int from, List<Msg> out) {
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int pos = from;
        while (data.length - pos >= 8) {
            int count = buf.getInt(pos) + 1;
            if (count <= 0 || count > 1024) throw new AssertionError("server sent a bad frame header at " + pos);
            int header = (4 + 4 * count + 7) & ~7;
            if (data.length - pos < header) break;
            long words = 0;
            int[] sizes = new int[count];
            for (int i = 0; i < count; i++) {
                sizes[i] = buf.getInt(pos + 4 + 4 * i);
                words += Integer.toUnsignedLong(sizes[i]);
            }
            if (data.length - pos - header < words * 8) break;
            ByteBuffer[] segments = new ByteBuffer[count];
            int offset = pos + header;
            for (int i = 0; i < count; i++) {
                segments[i] = ByteBuffer.wrap(data, offset, sizes[i] * 8).slice().order(ByteOrder.LITTLE_ENDIAN);
                offset += sizes[i] * 8;
            }
            StructIn root = new MessageReader(segments, new ReaderOptions(64L << 20, 128)).getRoot(AnyStruct.READER);
            out.add(new Msg(root.getShort(0), root));
            pos = offset;
        }
        return pos;
    }

    /** A proper client: makeEcho().echo("still alive") must be answered. */
    private void probe(String when) throws Exception {
        currentCase = "probe " + when;
        AtomicReference<Object> outcome = new AtomicReference<>();
        AtomicReference<SocketChannel> socket = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("fuzz-probe").start(() -> {
            try {
                socket.set(SocketChannel.open(address));
                Init init = MpConnection.connect(new ChannelStream(socket.get()), Init.class, "probe",
                        new MpConnection.Options("probe", ReaderLimits.DEFAULT, null));
                try (Echo echo = init.makeEcho()) {
                    outcome.set(echo.echo("still alive"));
                } finally {
                    init.close();
                }
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.join(5_000);
        if (t.isAlive() || !"still alive".equals(outcome.get())) {
            failures.add("probe " + when + ": a proper client was not served: "
                    + (t.isAlive() ? "no answer in 5 s" : outcome.get()) + "\n" + threadDump());
            // End the stuck client so that neither its threads nor the server's connection linger.
            SocketChannel stuck = socket.get();
            if (stuck != null) {
                try {
                    stuck.close();
                } catch (IOException ignored) {
                    // nothing more to do
                }
            }
            t.join(5_000);
        }
    }

    // ------------------------------------------------------------------------------------------ bookkeeping

    static final class Stats {
        int connections, aborted, closedWithoutAbort, answered, timedOut, unexpected;
        long maxMillis;

        @Override
        public String toString() {
            return connections + " connections: " + aborted + " aborted, " + closedWithoutAbort + " closed without abort, "
                    + answered + " got answers (Return/Unimplemented/Release), " + timedOut + " timed out, " + unexpected
                    + " unexpected; slowest " + maxMillis + " ms";
        }
    }

    /**
     * Runs one case: the connection must end by the server within the timeout (or, with {@code halfClose}
     * false, promptly on its own), nothing may reach the uncaught-exception handler, and {@code check} may
     * add expectations (it returns null when satisfied, else what was wrong).
     */
    private Result run(String category, String name, byte[] input, boolean halfClose, long timeoutMs,
                       java.util.function.Function<Result, String> check) throws IOException {
        return run(category, name, input, halfClose, null, timeoutMs, check);
    }

    /** As above; reading also stops (the client closes) once {@code done} holds for what came back. */
    private Result run(String category, String name, byte[] input, boolean halfClose, Predicate<List<Msg>> done,
                       long timeoutMs, java.util.function.Function<Result, String> check) throws IOException {
        return run(category, name, List.of(new Step(input, null)), halfClose, done, timeoutMs, check);
    }

    private Result run(String category, String name, List<Step> steps, boolean halfClose, Predicate<List<Msg>> done,
                       long timeoutMs, java.util.function.Function<Result, String> check) throws IOException {
        Stats s = stats.computeIfAbsent(category, k -> new Stats());
        currentCase = category + "/" + name;
        int uncaughtBefore = uncaught.size();
        Result r = exchange(steps, halfClose, done, timeoutMs);
        byte[] input = concat(steps.stream().map(Step::bytes).toArray(byte[][]::new));
        s.connections++;
        s.maxMillis = Math.max(s.maxMillis, r.millis);
        if (r.timedOut) {
            s.timedOut++;
            timeouts++;
        } else if (r.aborted()) {
            s.aborted++;
        } else if (r.closedByServer) {
            s.closedWithoutAbort++;
        }
        if (r.messages.stream().anyMatch(m -> m.tag != RpcSchema.ABORT)) s.answered++;
        String problem = r.timedOut ? "the server neither closed nor aborted within " + timeoutMs + " ms" : null;
        if (problem == null && check != null) problem = check.apply(r);
        // Exceptions of the server's threads for this input show up shortly after the close at the latest.
        if (uncaught.size() == uncaughtBefore) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(r.timedOut ? 200 : 0);
            while (uncaught.size() == uncaughtBefore && System.nanoTime() < deadline) sleep(10);
        }
        if (uncaught.size() > uncaughtBefore) {
            problem = (problem == null ? "" : problem + "; ") + "uncaught exception: " + uncaught.get(uncaughtBefore);
        }
        if (problem != null) {
            s.unexpected++;
            failures.add(category + "/" + name + ": " + problem + "\n    result: " + r + "\n    input ("
                    + input.length + " bytes): " + hex(input, 600));
        }
        return r;
    }

    private static String hex(byte[] bytes, int max) {
        String h = HexFormat.of().formatHex(bytes, 0, Math.min(bytes.length, max));
        return bytes.length > max ? h + "..." : h;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String threadDump() {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, trace) -> {
            if (!t.getName().startsWith("fuzz") && !t.getName().startsWith("capnp") && !t.getName().startsWith("probe")
                    && !t.getName().contains("mp-worker")) return;
            b.append("  thread ").append(t.getName()).append(" ").append(t.getState()).append('\n');
            for (StackTraceElement e : trace) b.append("      at ").append(e).append('\n');
        });
        return b.toString();
    }

    private static int threadCount() {
        return Thread.getAllStackTraces().size();
    }

    private static int fdCount() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count();
        }
    }

    private static long usedHeapAfterGc() {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            sleep(50);
        }
        return rt.totalMemory() - rt.freeMemory();
    }

    private void awaitNoLiveServerConnections(String when) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!live.isEmpty() && System.nanoTime() < deadline) sleep(20);
        if (!live.isEmpty()) {
            failures.add(when + ": " + live.size() + " server connections never ended: "
                    + live.stream().map(c -> c.rpc().name()).toList());
        }
    }

    private boolean tooManyTimeouts() {
        return timeouts >= MAX_TIMEOUTS;
    }

    // ------------------------------------------------------------------------------------------ encoding

    private static List<byte[]> seeds() throws IOException {
        try (Stream<Path> files = Files.list(SEEDS)) {
            List<Path> paths = files.filter(p -> p.getFileName().toString().endsWith(".c2s.bin")).sorted().toList();
            List<byte[]> out = new ArrayList<>();
            for (Path p : paths) out.add(Files.readAllBytes(p));
            if (out.size() < 10) throw new AssertionError("expected the recorded client messages in " + SEEDS);
            return out;
        }
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private static byte[] concat(List<byte[]> parts, int from, int to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = from; i < to; i++) out.writeBytes(parts.get(i));
        return out.toByteArray();
    }

    /** A raw frame: the given header words (count - 1, sizes) followed by the given body. */
    private static byte[] rawFrame(int[] headerInts, byte[] body) {
        int headerBytes = (headerInts.length * 4 + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(headerBytes + body.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < headerInts.length; i++) b.putInt(4 * i, headerInts[i]);
        b.put(headerBytes, body);
        return b.array();
    }

    /** A well-framed message of the given segments (arrays of words). */
    private static byte[] frame(long[]... segments) {
        int[] header = new int[segments.length + 1];
        header[0] = segments.length - 1;
        int words = 0;
        for (int i = 0; i < segments.length; i++) {
            header[i + 1] = segments[i].length;
            words += segments[i].length;
        }
        ByteBuffer body = ByteBuffer.allocate(words * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long[] segment : segments) for (long w : segment) body.putLong(w);
        return rawFrame(header, body.array());
    }

    private static byte[] frame(MessageBuilder message) {
        List<ByteBuffer> parts = new ArrayList<>();
        FrameWriter.frame(message, parts);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer p : parts) {
            byte[] b = new byte[p.remaining()];
            p.duplicate().get(b);
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    static long structPtr(int offset, int dataWords, int pointers) {
        return ((long) (offset << 2) & 0xffffffffL) | ((long) dataWords << 32) | ((long) pointers << 48);
    }

    static long listPtr(int offset, int elementSize, int count) {
        return (((long) (offset << 2) | 1) & 0xffffffffL) | ((long) elementSize << 32) | ((long) count << 35);
    }

    static long farPtr(int padOffset, boolean doubleFar, int segment) {
        return ((((long) padOffset << 3) | (doubleFar ? 4 : 0) | 2) & 0xffffffffL) | ((long) segment << 32);
    }

    /** An RPC message: root Message with union tag {@code tag} and its member struct built by {@code body}. */
    private static byte[] message(short tag, int words, int pointers, Consumer<StructOut> body) {
        MessageBuilder m = new MessageBuilder();
        StructOut root = m.initRoot(AnyStruct.builderOf(RpcSchema.MESSAGE_WORDS, RpcSchema.MESSAGE_PTRS));
        root.setShort(0, tag);
        body.accept(root.initStruct(0, words, pointers));
        return frame(m);
    }

    private static byte[] bootstrap(int questionId) {
        return message(RpcSchema.BOOTSTRAP, RpcSchema.BOOTSTRAP_WORDS, RpcSchema.BOOTSTRAP_PTRS, b -> b.setInt(0, questionId));
    }

    private static byte[] finish(int questionId) {
        return message(RpcSchema.FINISH, RpcSchema.FINISH_WORDS, RpcSchema.FINISH_PTRS, b -> b.setInt(0, questionId));
    }

    private static byte[] release(int id, int count) {
        return message(RpcSchema.RELEASE, RpcSchema.RELEASE_WORDS, RpcSchema.RELEASE_PTRS, b -> {
            b.setInt(0, id);
            b.setInt(1, count);
        });
    }

    private static byte[] returnResults(int answerId) {
        return message(RpcSchema.RETURN, RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS, b -> {
            b.setInt(0, answerId);
            b.setShort(RpcSchema.RETURN_TAG_SHORT, RpcSchema.RET_RESULTS);
            b.initStruct(0, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
        });
    }

    private static byte[] disembargo(short kind, int embargoId, Consumer<StructOut> target) {
        return message(RpcSchema.DISEMBARGO, RpcSchema.DISEMBARGO_WORDS, RpcSchema.DISEMBARGO_PTRS, b -> {
            b.setShort(RpcSchema.DISEMBARGO_TAG_SHORT, kind);
            b.setInt(0, embargoId);
            target.accept(b.initStruct(0, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS));
        });
    }

    static Consumer<StructOut> imported(int exportId) {
        return t -> {
            t.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_IMPORTED);
            t.setInt(0, exportId);
        };
    }

    /** A promisedAnswer target; each op is {tag, pointer index}. */
    static Consumer<StructOut> promised(int questionId, short[]... ops) {
        return t -> {
            t.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_PROMISED);
            StructOut p = t.initStruct(0, RpcSchema.PROMISED_WORDS, RpcSchema.PROMISED_PTRS);
            p.setInt(0, questionId);
            if (ops.length > 0) {
                StructList.Builder<StructOut> list = p.initList(AnyStruct.listOf(RpcSchema.OP_WORDS, RpcSchema.OP_PTRS), 0, ops.length);
                for (int i = 0; i < ops.length; i++) {
                    list.get(i).setShort(0, ops[i][0]);
                    list.get(i).setShort(1, ops[i][1]);
                }
            }
        };
    }

    /** A capability descriptor: {tag, id}. */
    static int[] cap(short tag, int id) {
        return new int[] {tag, id};
    }

    /** A receiverAnswer descriptor: question {@code questionId}, then getPointerField of each of {@code path}. */
    static int[] answerCap(int questionId, int... path) {
        int[] d = new int[2 + path.length];
        d[0] = RpcSchema.CAP_RECEIVER_ANSWER;
        d[1] = questionId;
        System.arraycopy(path, 0, d, 2, path.length);
        return d;
    }

    /** A Call; {@code content} builds the params struct, {@code caps} the capability table. */
    private static byte[] call(int questionId, Consumer<StructOut> target, long interfaceId, int methodId, short sendTo,
                               int contentWords, int contentPointers, Consumer<StructOut> content, int[]... caps) {
        return message(RpcSchema.CALL, RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS, b -> {
            b.setInt(0, questionId);
            b.setLong(RpcSchema.CALL_IFACE_LONG, interfaceId);
            b.setShort(RpcSchema.CALL_METHOD_SHORT, (short) methodId);
            b.setShort(RpcSchema.CALL_SEND_TO_SHORT, sendTo);
            target.accept(b.initStruct(RpcSchema.CALL_TARGET, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS));
            StructOut payload = b.initStruct(RpcSchema.CALL_PARAMS, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
            if (content != null) content.accept(payload.initStruct(0, contentWords, contentPointers));
            if (caps.length > 0) {
                StructList.Builder<StructOut> table = payload.initList(
                        AnyStruct.listOf(RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS), 1, caps.length);
                for (int i = 0; i < caps.length; i++) {
                    table.get(i).setShort(0, (short) caps[i][0]);
                    table.get(i).setInt(RpcSchema.CAPDESC_ID_INT, caps[i][1]);
                    if (caps[i][0] == RpcSchema.CAP_RECEIVER_ANSWER) {
                        StructOut p = table.get(i).initStruct(0, RpcSchema.PROMISED_WORDS, RpcSchema.PROMISED_PTRS);
                        p.setInt(0, caps[i][1]);
                        if (caps[i].length > 2) {
                            StructList.Builder<StructOut> ops = p.initList(AnyStruct.listOf(RpcSchema.OP_WORDS, RpcSchema.OP_PTRS), 0, caps[i].length - 2);
                            for (int j = 2; j < caps[i].length; j++) {
                                ops.get(j - 2).setShort(0, RpcSchema.OP_GET_POINTER_FIELD);
                                ops.get(j - 2).setShort(1, (short) caps[i][j]);
                            }
                        }
                    }
                }
            }
        });
    }

    /** Echo.echo(text) on the recorded conversation's Echo (export 3) and thread (export 2). */
    private static byte[] echoCall(int questionId, Consumer<StructOut> target, String text) {
        return call(questionId, target, ECHO_ID, 1, (short) 0, 0, 2, c -> {
            StructOut context = c.initStruct(0, 0, 2);
            context.setCapIndex(0, 0);
            c.setText(1, text);
        }, cap(RpcSchema.CAP_RECEIVER_HOSTED, 2));
    }

    /**
     * The recorded conversation up to the Echo, as the C++ client spaced it: bootstrap, construct, makeThread,
     * makeEcho, then (once makeEcho has returned) its Finish. Exports then: 0 Init, 1 ThreadMap, 2 thread, 3 Echo.
     */
    private static List<Step> setUpSteps(List<byte[]> seeds, byte[]... more) {
        List<Step> steps = new ArrayList<>();
        steps.add(new Step(concat(seeds, 0, 7), msgs -> msgs.stream().anyMatch(m -> m.tag() == RpcSchema.ABORT
                || m.tag() == RpcSchema.RETURN && m.body().getInt(0) == 1 && m.body().getShort(RpcSchema.RETURN_TAG_SHORT) == RpcSchema.RET_RESULTS
                && m.body().getStruct(0).getStructList(1).size() == 1 && m.body().getStruct(0).getStructList(1).get(0).getInt(1) == 3)));
        steps.add(new Step(concat(seeds.get(7), concat(more)), null));
        return steps;
    }

    /** ThreadMap.makeThread(name) on the ThreadMap the server gave (export 1). */
    private static byte[] makeThread(int questionId, String name) {
        return call(questionId, imported(1), THREAD_MAP_ID, 0, (short) 0, 0, 1, c -> c.setText(0, name));
    }

    /** An unknown-kind message: root with tag {@code tag}, member a struct with one data word and a text. */
    private static byte[] unknownTag(short tag) {
        return message(tag, 1, 1, b -> {
            b.setLong(0, 0x1122334455667788L);
            b.setText(0, "original content");
        });
    }

    // ------------------------------------------------------------------------------------------ the fuzz run

    @Test
    void fuzzManyMalformedConnections() throws Exception {
        List<byte[]> seeds = seeds();
        probe("warm-up");
        awaitNoLiveServerConnections("after warm-up");
        sleep(300);
        int baseThreads = threadCount();
        int baseFds = fdCount();
        long baseHeap = usedHeapAfterGc();
        long started = System.nanoTime();
        int done = 0;

        // (1) Truncated: the recorded conversation up to message k, message k cut at every length, then EOF.
        for (int k = 0; k < seeds.size() && !tooManyTimeouts(); k++) {
            byte[] prefix = concat(seeds, 0, k);
            byte[] msg = seeds.get(k);
            for (int cut = 1; cut < msg.length && !tooManyTimeouts(); cut++) {
                byte[] input = concat(prefix, Arrays.copyOf(msg, cut));
                // Sent without waiting for answers, message 018 may reuse question 0 while the Echo call 014
                // still runs: an Abort for that ("in use") is fair; any other Abort of a valid prefix is not.
                int index = k;
                run("1 truncated", "msg " + k + " cut " + cut, input, true, TIMEOUT_MS, r -> {
                    if (!r.aborted()) return null;
                    if (index > 10 && r.abort().abortReason().contains("in use")) return null;
                    return "a truncated (otherwise valid) stream was aborted: " + r.abort();
                });
                if (++done % 500 == 0) probe("after " + done);
            }
        }

        // (2) Bit flips in header and body of one recorded message, after the valid ones before it.
        Random flips = new Random(0xF11F5L);
        for (int i = 0; i < 1000 && !tooManyTimeouts(); i++) {
            int k = flips.nextInt(seeds.size());
            byte[] msg = seeds.get(k).clone();
            int headerBytes = (4 + 4 * (ByteBuffer.wrap(msg).order(ByteOrder.LITTLE_ENDIAN).getInt(0) + 1) + 7) & ~7;
            int n = flips.nextInt(10) < 4 ? 1 : 2 + flips.nextInt(7);
            StringBuilder where = new StringBuilder();
            for (int j = 0; j < n; j++) {
                int pos = flips.nextInt(10) < 3 ? flips.nextInt(headerBytes) : flips.nextInt(msg.length);
                int bit = flips.nextInt(8);
                msg[pos] ^= (byte) (1 << bit);
                where.append(pos).append('.').append(bit).append(' ');
            }
            boolean rest = flips.nextBoolean();
            byte[] input = concat(concat(seeds, 0, k), msg, rest ? concat(seeds, k + 1, seeds.size()) : new byte[0]);
            run("2 bit-flipped", "msg " + k + " bits " + where.toString().trim(), input, true, TIMEOUT_MS, null);
            if (++done % 500 == 0) probe("after " + done);
        }

        // (3) Oversized frame headers: the server must abort at once, without allocating or waiting for the body.
        long heapBefore = usedHeapAfterGc();
        runOversizedHeaders();
        done += stats.get("3 oversized header").connections;
        long heapAfter = usedHeapAfterGc();
        if (heapAfter - heapBefore > (64L << 20)) {
            failures.add("oversized headers: heap in use grew from " + heapBefore + " to " + heapAfter + " bytes");
        }
        probe("after oversized headers");

        // (4) Random bytes of random lengths.
        Random bytes = new Random(0xB17E5L);
        for (int i = 0; i < 700 && !tooManyTimeouts(); i++) {
            int p = bytes.nextInt(10);
            int len = p < 5 ? bytes.nextInt(17) : p < 8 ? 17 + bytes.nextInt(240) : 257 + bytes.nextInt(3840);
            byte[] input = new byte[len];
            bytes.nextBytes(input);
            run("4 random bytes", "#" + i, input, true, TIMEOUT_MS, null);
            if (++done % 500 == 0) probe("after " + done);
        }

        // (5) Valid framing around random segment content.
        Random words = new Random(0x5E6L);
        for (int i = 0; i < 700 && !tooManyTimeouts(); i++) {
            byte[] input = randomContent(words);
            run("5 random content", "#" + i, input, true, TIMEOUT_MS, null);
            if (++done % 500 == 0) probe("after " + done);
        }

        // (6) Deep nesting, pointer loops, amplification.
        runNestingAndLoops();
        done += stats.get("6 nesting/loops").connections;
        probe("after nesting and loops");

        // (7) Protocol violations.
        runProtocolViolations(seeds);
        done += stats.get("7 protocol").connections;

        long elapsed = (System.nanoTime() - started) / 1_000_000;
        probe("at the end");
        awaitNoLiveServerConnections("at the end");

        // Threads and descriptors come back to the baseline.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int threads = threadCount();
        int fds = fdCount();
        while ((threads > baseThreads + 3 || fds > baseFds + 2) && System.nanoTime() < deadline) {
            sleep(100);
            threads = threadCount();
            fds = fdCount();
        }
        long heap = usedHeapAfterGc();
        StringBuilder report = new StringBuilder("malformed-input fuzz: " + done + " connections (" + accepted.get()
                + " accepted incl. probes) in " + elapsed + " ms\n");
        stats.forEach((k, v) -> report.append("  ").append(k).append(": ").append(v).append('\n'));
        report.append("  connections closed after a violation without the Abort being sent: ").append(abortsLost).append('\n');
        report.append("  threads ").append(baseThreads).append(" -> ").append(threads).append(", fds ").append(baseFds)
                .append(" -> ").append(fds).append(", heap in use ").append(baseHeap >> 20).append(" MiB -> ")
                .append(heap >> 20).append(" MiB\n");
        System.out.println(report);
        if (threads > baseThreads + 3) {
            failures.add("threads leaked: " + baseThreads + " before, " + threads + " after: "
                    + Thread.getAllStackTraces().keySet().stream().map(Thread::getName).sorted().toList());
        }
        if (fds > baseFds + 2) failures.add("descriptors leaked: " + baseFds + " before, " + fds + " after");
        if (heap - baseHeap > (128L << 20)) failures.add("heap in use grew from " + baseHeap + " to " + heap);
        if (tooManyTimeouts()) failures.add("stopped early after " + timeouts + " timeouts");
        assertTrue(done >= 3000 || !failures.isEmpty(), "only " + done + " connections");
        assertNoFailures(report.toString());
    }

    private void assertNoFailures(String context) {
        List<String> all = new ArrayList<>(failures);
        synchronized (uncaught) {
            for (String u : uncaught) all.add("uncaught (any case): " + u);
        }
        if (!all.isEmpty()) {
            System.out.println(context + "\nall " + all.size() + " problems:\n" + String.join("\n", all));
            fail(context + "\n" + all.size() + " problems:\n" + String.join("\n", all.subList(0, Math.min(all.size(), 25))));
        }
    }

    /** Connections that the server closed after a protocol violation without sending the Abort first. */
    private int abortsLost;

    /** The server aborted or at least closed the connection (an Abort may be lost; see abortIsSentAfterAnAnswer). */
    private String ended(Result r) {
        if (r.aborted()) return null;
        if (r.closedByServer) {
            abortsLost++;
            return null;
        }
        return "expected the server to abort or close, got " + r;
    }

    /** As {@link #ended}, and an Abort that did arrive names {@code words}. */
    private String abortMentioningOrClosed(Result r, String... words) {
        if (r.abort() == null) return ended(r);
        return expectAbortMentioning(r, words);
    }

    private static String expectAbortMentioning(Result r, String... words) {
        Msg abort = r.abort();
        if (abort == null) return "expected an Abort, got " + r.messages;
        String reason = abort.abortReason();
        for (String w : words) if (!reason.contains(w)) return "Abort reason does not mention '" + w + "': " + reason;
        if (!r.closedByServer) return "aborted but not closed";
        return null;
    }

    private void runOversizedHeaders() throws IOException {
        String cat = "3 oversized header";
        int max = (int) LIMITS.maxFrameWords();
        List<int[]> headers = new ArrayList<>();
        headers.add(new int[] {0, 0x1FFFFFFF});                         // 4 GiB
        headers.add(new int[] {0, 0xFFFFFFFF});                         // 32 GiB
        headers.add(new int[] {0, 0x80000000});                         // negative as an int
        headers.add(new int[] {0, max + 1});                            // just over the limit
        headers.add(new int[] {1, max, 1});                             // total just over
        headers.add(new int[] {1, 0x80000000, 0x80000000});            // sum overflows an int to 0
        headers.add(new int[] {1, 0xFFFFFFFF, 1});                      // sum overflows an int to 0
        headers.add(new int[] {3, 0x40000000, 0x40000000, 0x40000000, 0x40000000});  // sum 2^32
        headers.add(new int[] {2, max / 2, max / 2, 1});
        int[] many = new int[512 + 1];
        many[0] = 511;
        Arrays.fill(many, 1, many.length, max / 256);                   // 512 segments, total 2x the limit
        headers.add(many);
        headers.add(new int[] {0xFFFFFFFF});                            // 0 segments
        headers.add(new int[] {0x7FFFFFFF, 1});                         // 2^31 segments
        headers.add(new int[] {0x80000000, 1});
        headers.add(new int[] {512, 1});                                // 513 segments
        headers.add(new int[] {0xFFFFFFFE, 1});                         // -1 segments
        headers.add(new int[] {0x00100000, 1});                         // 1 Mi segments
        Random r = new Random(0x0E5L);
        for (int i = 0; i < 12; i++) {
            int count = 1 + r.nextInt(8);
            int[] h = new int[count + 1];
            h[0] = count - 1;
            for (int j = 1; j <= count; j++) h[j] = r.nextInt() | 0x00200000;
            headers.add(h);
        }
        for (int i = 0; i < headers.size(); i++) {
            int[] h = headers.get(i);
            boolean tooManySegments = Integer.toUnsignedLong(h[0]) + 1 > LIMITS.maxSegments() || h[0] == -1;
            for (int variant = 0; variant < 4; variant++) {
                // header only; header + 64 body bytes; header + 4 KiB; header in tiny pieces after a valid message
                byte[] body = variant == 1 ? new byte[64] : variant == 2 ? new byte[4096] : new byte[0];
                byte[] input = rawFrame(h, body);
                if (variant == 3) input = concat(bootstrap(0), input);
                String[] words = tooManySegments ? new String[] {"segments", "limit"} : new String[] {"limit"};
                boolean afterAnswer = variant == 3;  // the Abort may be lost then: see abortIsSentAfterAnAnswer
                run(cat, "header " + i + " variant " + variant, input, false, PROMPT_MS + 500, res -> {
                    String p = afterAnswer ? abortMentioningOrClosed(res, words) : expectAbortMentioning(res, words);
                    if (p == null && res.millis > PROMPT_MS) p = "closed only after " + res.millis + " ms";
                    return p;
                });
            }
        }
        // Exactly at the limit is allowed: the server waits for the body and ends cleanly at EOF.
        for (int[] h : List.of(new int[] {0, max}, new int[] {1, max - 1, 1})) {
            run(cat, "at the limit " + Arrays.toString(h), rawFrame(h, new byte[100]), true, TIMEOUT_MS,
                    res -> res.aborted() ? "a frame at the limit was aborted: " + res.abort() : null);
        }
    }

    private static byte[] randomContent(Random rnd) {
        int segments = rnd.nextInt(10) < 8 ? 1 : 2 + rnd.nextInt(3);
        long[][] segs = new long[segments][];
        boolean structured = rnd.nextBoolean();
        for (int s = 0; s < segments; s++) {
            long[] w = new long[rnd.nextInt(49)];
            for (int i = 0; i < w.length; i++) w[i] = structured ? randomPointerish(rnd) : rnd.nextLong();
            segs[s] = w;
        }
        if (structured && segs[0].length >= 3) {
            segs[0][0] = structPtr(0, 1, 1);
            segs[0][1] = rnd.nextInt(16) | (rnd.nextBoolean() ? rnd.nextLong() & ~0xffffL : 0);
            segs[0][2] = structPtr(rnd.nextInt(3), rnd.nextInt(4), rnd.nextInt(4));
        }
        return frame(segs);
    }

    private static long randomPointerish(Random rnd) {
        int off = rnd.nextInt(12) - 4;
        return switch (rnd.nextInt(7)) {
            case 0 -> structPtr(off, rnd.nextInt(4), rnd.nextInt(4));
            case 1 -> listPtr(off, rnd.nextInt(8), rnd.nextInt(20));
            case 2 -> farPtr(rnd.nextInt(16), rnd.nextInt(4) == 0, rnd.nextInt(3));
            case 3 -> 3L | ((long) rnd.nextInt(4) << 32);
            case 4 -> 0L;
            case 5 -> rnd.nextInt(20);
            default -> rnd.nextLong();
        };
    }

    // ------------------------------------------------------------------------------------------ (6)

    /** A message of unknown kind 20 whose member is a struct pointer announcing {@code pointers} pointers. */
    static byte[] negativePointerCount(int pointers) {
        return frame(new long[] {structPtr(0, 1, 1), 20, (long) pointers << 48});
    }

    /** A message of unknown kind 20 whose member has one pointer: a chain of {@code depth} structs. */
    static byte[] deepChain(short tag, int depth) {
        long[] w = new long[3 + depth];
        w[0] = structPtr(0, 1, 1);
        w[1] = tag;
        for (int i = 2; i < 2 + depth; i++) w[i] = structPtr(0, 0, 1);  // each struct is its one pointer to the next
        return frame(w);
    }

    private void runNestingAndLoops() throws IOException {
        String cat = "6 nesting/loops";
        short unknown = 20;
        // Shallow nesting is copied into Unimplemented; beyond the limit the copy fails and the server aborts.
        run(cat, "chain 20 (within the limit)", deepChain(unknown, 20), false, has(RpcSchema.UNIMPLEMENTED), TIMEOUT_MS, r -> {
            Msg u = r.first(RpcSchema.UNIMPLEMENTED);
            return u != null && u.body().getShort(0) == unknown ? null : "expected Unimplemented, got " + r;
        });
        for (int depth : new int[] {62, 63, 64, 65, 66, 100, 1000, 50_000}) {
            run(cat, "chain " + depth, deepChain(unknown, depth), true, TIMEOUT_MS,
                    r -> depth > 64 ? ended(r) : null);
        }
        // Deep nesting where the server reads its own fields: Bootstrap's member, Call params, Return payload.
        for (short tag : new short[] {RpcSchema.CALL, RpcSchema.RETURN, RpcSchema.FINISH, RpcSchema.RESOLVE,
                RpcSchema.ABORT, RpcSchema.UNIMPLEMENTED, RpcSchema.DISEMBARGO, RpcSchema.BOOTSTRAP}) {
            run(cat, "chain 1000 in kind " + tag, deepChain(tag, 1000), true, TIMEOUT_MS, null);
        }
        // A struct whose only pointer points at itself.
        long[] self = {structPtr(0, 1, 1), unknown, structPtr(-1, 0, 1)};
        run(cat, "self loop", frame(self), true, TIMEOUT_MS, this::ended);
        // Two structs pointing at each other.
        long[] pair = {structPtr(0, 1, 1), unknown, structPtr(0, 0, 1), structPtr(-2, 0, 1)};
        run(cat, "two-struct loop", frame(pair), true, TIMEOUT_MS, this::ended);
        // The root pointer pointing at itself (the root is its own pointer section).
        // The root is its own pointer section: its kind reads as 0 (Unimplemented), which is ignored.
        run(cat, "root self loop", frame(new long[] {structPtr(-1, 0, 1)}), true, TIMEOUT_MS, null);
        // The same loops in the members the server reads itself.
        for (short tag : new short[] {RpcSchema.CALL, RpcSchema.RETURN, RpcSchema.RESOLVE, RpcSchema.DISEMBARGO}) {
            long[] loop = {structPtr(0, 1, 1), tag, structPtr(0, 3, 3), 0, 0, 0, structPtr(-4, 3, 3), structPtr(-5, 3, 3), structPtr(-6, 3, 3)};
            run(cat, "struct loop in kind " + tag, frame(loop), true, TIMEOUT_MS, null);
        }
        // A list of pointers whose elements point back at the list's own pointer.
        long[] listLoop = {structPtr(0, 1, 1), unknown, listPtr(0, 6, 2), listPtr(-2, 6, 2), listPtr(-3, 6, 2)};
        run(cat, "list loop", frame(listLoop), true, TIMEOUT_MS, this::ended);
        // Far pointers: to a landing pad that is a far pointer back; a double-far landing pad pointing at itself;
        // landing pads in missing segments or out of bounds.
        long[] s0 = {structPtr(0, 1, 1), unknown, farPtr(0, false, 1)};
        long[] s1 = {farPtr(2, false, 0)};
        run(cat, "far loop between segments", frame(s0, s1), true, TIMEOUT_MS, this::ended);
        run(cat, "double-far to itself", frame(new long[] {structPtr(0, 1, 1), unknown, farPtr(2, true, 0), farPtr(2, true, 0)}),
                true, TIMEOUT_MS, this::ended);
        run(cat, "far to a missing segment", frame(new long[] {structPtr(0, 1, 1), unknown, farPtr(0, false, 7)}),
                true, TIMEOUT_MS, this::ended);
        run(cat, "far out of bounds", frame(new long[] {structPtr(0, 1, 1), unknown, farPtr(1 << 20, false, 0)}),
                true, TIMEOUT_MS, this::ended);
        run(cat, "root far to itself", frame(new long[] {farPtr(0, false, 0)}), true, TIMEOUT_MS, this::ended);
        // Amplification: 10000 pointers to one 30000-word struct would copy 300 M words: the traversal limit stops it.
        int big = 30_000, fanout = 10_000;
        long[] amp = new long[3 + fanout + big];
        amp[0] = structPtr(0, 1, 1);
        amp[1] = unknown;
        amp[2] = listPtr(0, 6, fanout);
        int target = 3 + fanout;
        for (int i = 0; i < fanout; i++) amp[3 + i] = structPtr(target - (3 + i) - 1, big, 0);
        long heapBefore = usedHeapAfterGc();
        run(cat, "amplification", frame(amp), true, TIMEOUT_MS, this::ended);
        long heapAfter = usedHeapAfterGc();
        if (heapAfter - heapBefore > (64L << 20)) {
            failures.add("amplification: heap in use grew from " + heapBefore + " to " + heapAfter);
        }
        // A zero-sized-element list of 2^29 elements as a Call's capability table.
        byte[] hugeCapTable = frame(new long[] {
            structPtr(0, 1, 1), RpcSchema.CALL,
            structPtr(0, 3, 3), 0, 0, 0,          // call: 3 data words, pointers: target, params, sendResultsTo
            structPtr(2, 1, 1), structPtr(3, 0, 2), 0,
            0, 0,                                // target struct (imported 0) data + pointer
            0, listPtr(0, 0, (1 << 29) - 1),     // payload: content null, capTable: void list of 2^29-1
        });
        run(cat, "call with 2^29 void cap descriptors", hugeCapTable, true, TIMEOUT_MS, this::ended);
        // A struct pointer with 32768 or more pointers: its count is negative as a short. The copy into
        // Unimplemented then allocates a negative size (an AssertionError under -ea).
        for (int pointers : new int[] {0x8000, 0xFFFF}) {
            run(cat, "unknown kind with a struct of " + pointers + " pointers", negativePointerCount(pointers), true, TIMEOUT_MS, this::ended);
            // Init.makeEcho pipelined on the bootstrap, its params such a struct.
            long[] w = {
                structPtr(0, 1, 1), RpcSchema.CALL, structPtr(0, 3, 3),
                1 | (1L << 32), INIT_ID, 0,                  // question 1, method 1; interface; sendResultsTo caller
                structPtr(2, 1, 1), structPtr(5, 0, 2), 0,   // target, params, -
                1L << 32, structPtr(0, 1, 1), 0, 0,          // target: promisedAnswer (question 0, no transform)
                (long) pointers << 48, 0,                    // params: content, capTable
            };
            run(cat, "call params with a struct of " + pointers + " pointers", concat(bootstrap(0), frame(w)), true, TIMEOUT_MS, null);
        }
    }

    // ------------------------------------------------------------------------------------------ (7)

    private void runProtocolViolations(List<byte[]> seeds) throws IOException {
        String cat = "7 protocol";
        for (int round = 0; round < 3; round++) {
            String n = " #" + round;
            run(cat, "call to an export that does not exist" + n,
                    echoCall(0, imported(99), "x"), false, answered(0), TIMEOUT_MS, r -> {
                        Msg ret = r.first(RpcSchema.RETURN);
                        if (ret != null && ret.body().getShort(RpcSchema.RETURN_TAG_SHORT) == RpcSchema.RET_EXCEPTION) return null;
                        return r.aborted() ? null : "expected a Return with an exception or an Abort, got " + r;
                    });
            run(cat, "release of an unknown id" + n, release(42, 1), false, TIMEOUT_MS, r -> abortMentioningOrClosed(r, "42"));
            run(cat, "release of an unknown id after set-up" + n, setUpSteps(seeds, release(42, 1)), false, null, TIMEOUT_MS,
                    r -> abortMentioningOrClosed(r, "42"));
            run(cat, "finish of an unknown question" + n, finish(7), false, TIMEOUT_MS, r -> abortMentioningOrClosed(r, "7"));
            run(cat, "return for an unknown question" + n, returnResults(9), false, TIMEOUT_MS, r -> abortMentioningOrClosed(r, "9"));
            run(cat, "disembargo to a target that is not an import" + n,
                    disembargo(RpcSchema.DIS_SENDER_LOOPBACK, 1, imported(77)), false, TIMEOUT_MS, this::ended);
            run(cat, "disembargo on our own bootstrap" + n,
                    concat(bootstrap(0), disembargo(RpcSchema.DIS_SENDER_LOOPBACK, 1, promised(0))), false, TIMEOUT_MS,
                    this::ended);
            run(cat, "disembargo on an unknown question" + n,
                    disembargo(RpcSchema.DIS_SENDER_LOOPBACK, 1, promised(5)), false, TIMEOUT_MS, this::ended);
            run(cat, "receiverLoopback for an unknown embargo" + n,
                    disembargo(RpcSchema.DIS_RECEIVER_LOOPBACK, 5, imported(0)), false, TIMEOUT_MS, this::ended);
            for (short kind : new short[] {RpcSchema.DIS_ACCEPT, RpcSchema.DIS_PROVIDE, 99}) {
                run(cat, "disembargo kind " + kind + n, disembargo(kind, 5, imported(0)), false, TIMEOUT_MS,
                        this::ended);
            }
            for (short tag : new short[] {RpcSchema.OBSOLETE_SAVE, RpcSchema.OBSOLETE_DELETE, RpcSchema.PROVIDE,
                    RpcSchema.ACCEPT, RpcSchema.JOIN, 14, 99, 0x7fff, -1}) {
                run(cat, "unknown message kind " + tag + n, unknownTag(tag), false, has(RpcSchema.UNIMPLEMENTED), TIMEOUT_MS, r -> {
                    Msg u = r.first(RpcSchema.UNIMPLEMENTED);
                    if (u == null) return "expected Unimplemented, got " + r;
                    if (u.body().getShort(0) != tag) return "Unimplemented names kind " + u.body().getShort(0);
                    return null;
                });
            }
            run(cat, "bootstrap reusing a question id" + n, concat(bootstrap(0), bootstrap(0)), false, TIMEOUT_MS, r -> {
                Msg ret = r.first(RpcSchema.RETURN);
                if (ret == null || ret.body().getInt(0) != 0) return "expected the first bootstrap answered, got " + r;
                return abortMentioningOrClosed(r, "in use");
            });
            run(cat, "call reusing a question id" + n,
                    concat(bootstrap(0), echoCall(0, imported(0), "x")), false, TIMEOUT_MS, r -> abortMentioningOrClosed(r, "in use"));
            run(cat, "call with an unknown target kind" + n,
                    call(0, t -> t.setShort(RpcSchema.TARGET_TAG_SHORT, (short) 7), INIT_ID, 1, (short) 0, 0, 0, null),
                    false, TIMEOUT_MS, this::ended);
            run(cat, "call pipelined on an unknown question" + n,
                    echoCall(0, promised(33), "x"), false, TIMEOUT_MS, this::ended);
            run(cat, "call with an unknown transform op" + n,
                    concat(bootstrap(0), call(1, promised(0, new short[] {7, 0}), INIT_ID, 1, (short) 0, 0, 1, null)),
                    false, TIMEOUT_MS, this::ended);
            run(cat, "call with an unknown capability descriptor" + n,
                    concat(bootstrap(0), call(1, promised(0), INIT_ID, 1, (short) 0, 0, 1, null, cap((short) 9, 0))),
                    false, TIMEOUT_MS, this::ended);
            // sendResultsTo.yourself (a peer's tail call): the results stay here for a takeFromOtherQuestion.
            run(cat, "call with results kept for the caller's other question" + n,
                    concat(bootstrap(0), call(1, promised(0), INIT_ID, 1, (short) 1, 0, 1, null)), false, answered(1), TIMEOUT_MS, r -> {
                        Msg ret = r.messages().stream().filter(m -> m.tag() == RpcSchema.RETURN && m.body().getInt(0) == 1).findFirst().orElse(null);
                        return ret != null && ret.body().getShort(RpcSchema.RETURN_TAG_SHORT) == RpcSchema.RET_SENT_ELSEWHERE ? null
                                : r.aborted() ? null : "expected a Return with resultsSentElsewhere for question 1, got " + r;
                    });
            run(cat, "call with results sent to a third party" + n,
                    concat(bootstrap(0), call(1, promised(0), INIT_ID, 1, (short) 2, 0, 1, null)), false, answered(1), TIMEOUT_MS, r -> {
                        Msg ret = r.messages().stream().filter(m -> m.tag() == RpcSchema.RETURN && m.body().getInt(0) == 1).findFirst().orElse(null);
                        return ret != null && ret.body().getShort(RpcSchema.RETURN_TAG_SHORT) == RpcSchema.RET_EXCEPTION ? null
                                : r.aborted() ? null : "expected a Return with an exception for question 1, got " + r;
                    });
            run(cat, "release of the bootstrap with a huge count, then a call to it" + n,
                    concat(bootstrap(0), finish(0), release(0, -1), echoCall(1, imported(0), "x")), false, answered(1), TIMEOUT_MS,
                    r -> r.abort() == null && r.closedByServer ? ended(r) : expectAnswerOrAbortFor(r, 1));
            run(cat, "abort from the client" + n,
                    message(RpcSchema.ABORT, RpcSchema.EXCEPTION_WORDS, RpcSchema.EXCEPTION_PTRS, b -> b.setText(0, "bye")),
                    false, TIMEOUT_MS, r -> r.aborted() ? "the server answered an Abort with an Abort" : null);
            run(cat, "unimplemented for a call never made" + n,
                    message(RpcSchema.UNIMPLEMENTED, 1, 1, b -> {
                        b.setShort(0, RpcSchema.CALL);
                        b.initStruct(0, 3, 3).setInt(0, 5);
                    }), true, TIMEOUT_MS, r -> r.aborted() ? "aborted: " + r.abort() : null);
            run(cat, "resolve of a promise we never sent" + n,
                    message(RpcSchema.RESOLVE, 1, 1, b -> {
                        b.setInt(0, 3);
                        b.setShort(RpcSchema.RESOLVE_TAG_SHORT, RpcSchema.RESOLVE_CAP);
                        StructOut d = b.initStruct(0, RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS);
                        d.setShort(0, RpcSchema.CAP_SENDER_HOSTED);
                        d.setInt(RpcSchema.CAPDESC_ID_INT, 4);
                    }), true, TIMEOUT_MS, null);
        }
        // Once: results sent elsewhere while the writer thread is idle (the Return is queued, then who writes it?).
        run(cat, "call with results sent elsewhere, writer idle",
                List.of(new Step(bootstrap(0), answered(0)), new Step(call(1, promised(0), INIT_ID, 1, (short) 1, 0, 1, null), null)),
                false, answered(1), TIMEOUT_MS, r -> expectAnswersOrAbort(r, 1));
            // A call pipelined on an answer that is still being computed (the Echo sleeps), with a malformed
        // transform / descriptor that is only looked at once that answer is in, on the worker thread:
        // the malformed call must abort the connection (or be answered), and the valid call before it answered.
        run(cat, "pipelined call with a bad transform, found late",
                setUpSteps(seeds, echoCall(0, imported(3), "sleep:100"), echoCall(1, promised(0, new short[] {7, 0}), "y")),
                false, answeredAll(0, 1), TIMEOUT_MS, r -> expectAnswersOrAbort(r, 0, 1));
        run(cat, "pipelined call with a bad capability, found late",
                setUpSteps(seeds, echoCall(0, imported(3), "sleep:100"),
                        call(1, imported(3), ECHO_ID, 1, (short) 0, 0, 2, c -> c.setText(1, "z"),
                                answerCap(0), cap((short) 9, 0))),
                false, answeredAll(0, 1), TIMEOUT_MS, r -> expectAnswersOrAbort(r, 0, 1));
        // Valid traffic (what MpConnection's own client sends): a call pipelined on a pending answer names
        // its thread as a promise of another question, which the client finishes before the first answer is in.
        run(cat, "valid: pipelined call whose thread promise is finished first", finishRace(seeds), false,
                answeredAll(5, 0, 2), TIMEOUT_MS, r -> {
                    if (r.aborted()) return "a valid conversation was aborted: " + r.abort();
                    return expectAnswersOrAbort(r, 5, 0, 2);
                });
    }

    /**
     * After the set-up: the worker sleeps (question 5), makeEcho is queued behind it (0), makeThread is
     * answered at once (1), echo is pipelined on makeEcho's Echo and runs on makeThread's thread (2), and
     * makeThread is finished before makeEcho returns.
     */
    private static List<Step> finishRace(List<byte[]> seeds) {
        return setUpSteps(seeds,
                echoCall(5, imported(3), "sleep:100"),
                call(0, imported(0), INIT_ID, 1, (short) 0, 0, 1, c -> c.initStruct(0, 0, 2).setCapIndex(0, 0),
                        cap(RpcSchema.CAP_RECEIVER_HOSTED, 2)),
                makeThread(1, "t2"),
                call(2, promised(0, new short[] {RpcSchema.OP_GET_POINTER_FIELD, 0}), ECHO_ID, 1, (short) 0, 0, 2, c -> {
                    c.initStruct(0, 0, 2).setCapIndex(0, 0);
                    c.setText(1, "x");
                }, answerCap(1, 0)),
                finish(1));
    }

    private static Predicate<List<Msg>> answeredAll(int... questionIds) {
        return msgs -> msgs.stream().anyMatch(m -> m.tag() == RpcSchema.ABORT) || Arrays.stream(questionIds).allMatch(
                q -> msgs.stream().anyMatch(m -> m.tag() == RpcSchema.RETURN && m.body().getInt(0) == q));
    }

    private static String expectAnswersOrAbort(Result r, int... questionIds) {
        if (r.aborted()) return null;
        for (int q : questionIds) {
            if (r.tail().stream().noneMatch(m -> m.tag() == RpcSchema.RETURN && m.body().getInt(0) == q)) {
                return "question " + q + " was never answered and the connection not aborted: " + r;
            }
        }
        return null;
    }

    private static Predicate<List<Msg>> has(short tag) {
        return msgs -> msgs.stream().anyMatch(m -> m.tag() == tag || m.tag() == RpcSchema.ABORT);
    }

    private static Predicate<List<Msg>> answered(int questionId) {
        return msgs -> msgs.stream().anyMatch(m -> m.tag() == RpcSchema.ABORT
                || m.tag() == RpcSchema.RETURN && m.body().getInt(0) == questionId);
    }

    private static String expectAnswerOrAbortFor(Result r, int questionId) {
        if (r.aborted()) return null;
        boolean answered = r.tail().stream().anyMatch(m -> m.tag == RpcSchema.RETURN && m.body().getInt(0) == questionId);
        return answered ? null : "question " + questionId + " was neither answered nor the connection aborted: " + r;
    }

    // ------------------------------------------------------------------------------------------ targeted

    @Test
    void frameOverTheLimitIsAbortedNamingTheLimitWithoutReadingIt() throws Exception {
        long heapBefore = usedHeapAfterGc();
        for (int size : new int[] {0x1FFFFFFF, (int) LIMITS.maxFrameWords() + 1, 0xFFFFFFFF}) {
            // Announces up to 32 GiB; sends nothing more and keeps the connection open.
            Result r = exchange(rawFrame(new int[] {0, size}, new byte[0]), false, null, TIMEOUT_MS);
            assertTrue(!r.timedOut && r.closedByServer, "closed by the server: " + r);
            assertTrue(r.millis < PROMPT_MS, "closed promptly: " + r);
            Msg abort = r.abort();
            assertTrue(abort != null, "Abort sent: " + r);
            String reason = abort.abortReason();
            assertTrue(reason.contains("limit") && reason.contains(Long.toString(LIMITS.maxFrameWords() * 8)),
                    "reason names the limit: " + reason);
            assertTrue(reason.contains(Long.toString(Integer.toUnsignedLong(size) * 8)), "reason names the size: " + reason);
        }
        long heapAfter = usedHeapAfterGc();
        assertTrue(heapAfter - heapBefore < (32L << 20), "heap grew from " + heapBefore + " to " + heapAfter);
        assertNoFailures("");
    }

    @Test
    void unknownMessageKindGetsUnimplementedWithTheOriginal() throws Exception {
        for (short tag : new short[] {14, 99, -1}) {
            byte[] sent = unknownTag(tag);
            Result r = exchange(sent, false, msgs -> !msgs.isEmpty(), TIMEOUT_MS);
            assertTrue(!r.timedOut, "answered: " + r);
            assertEquals(1, r.messages.size(), "one message back: " + r);
            Msg u = r.messages.get(0);
            assertEquals(RpcSchema.UNIMPLEMENTED, u.tag(), "Unimplemented: " + r);
            StructIn original = u.body();
            assertEquals(tag, original.getShort(0), "the original's kind");
            StructIn member = original.getStruct(0);
            assertEquals(0x1122334455667788L, member.getLong(0), "the original's data");
            assertEquals("original content", member.getText(0), "the original's text");
        }
        // The connection stays usable after an Unimplemented: a bootstrap on it is answered.
        Result r = exchange(concat(unknownTag((short) 14), bootstrap(0)), false,
                msgs -> msgs.stream().anyMatch(m -> m.tag() == RpcSchema.RETURN), TIMEOUT_MS);
        assertTrue(!r.timedOut && !r.aborted(), "bootstrap answered after Unimplemented: " + r);
        assertEquals(RpcSchema.UNIMPLEMENTED, r.messages.get(0).tag());
        assertNoFailures("");
    }

    @Test
    void malformedPipelinedCallFoundAfterItsDependencyReturnsAbortsCleanly() throws Exception {
        List<Step> steps = setUpSteps(seeds(), echoCall(0, imported(3), "sleep:100"), echoCall(1, promised(0, new short[] {7, 0}), "y"));
        Result r = exchange(steps, false, answeredAll(0, 1), TIMEOUT_MS);
        sleep(200);
        assertTrue(uncaught.isEmpty(), "nothing uncaught: " + uncaught);
        assertTrue(!r.timedOut(), "the server answered question 0 and then answered question 1 or aborted: " + r);
        assertEquals(null, expectAnswersOrAbort(r, 0, 1));
        assertNoFailures("");
    }

    @Test
    void pipelinedCallSurvivesFinishOfTheQuestionItsThreadCameFrom() throws Exception {
        Result r = exchange(finishRace(seeds()), false, answeredAll(5, 0, 2), TIMEOUT_MS);
        sleep(200);
        assertTrue(uncaught.isEmpty(), "nothing uncaught: " + uncaught);
        assertTrue(!r.timedOut() && !r.aborted(), "all three calls answered: " + r);
        Msg echo = r.tail().stream().filter(m -> m.tag() == RpcSchema.RETURN && m.body().getInt(0) == 2).findFirst().orElseThrow();
        assertEquals(RpcSchema.RET_RESULTS, echo.body().getShort(RpcSchema.RETURN_TAG_SHORT), "echo answered: " + r);
        assertEquals("x", echo.body().getStruct(0).getStruct(0).getText(0));
        assertNoFailures("");
    }

    @Test
    void abortIsSentAfterAnAnswer() throws Exception {
        // The Return for the bootstrap is still being written by the writer thread when the Release of an
        // unknown capability makes the server abort: the Abort must still reach the peer before the close.
        int lost = 0;
        String example = null;
        for (int i = 0; i < 30; i++) {
            Result r = exchange(concat(bootstrap(0), release(42, 1)), false, null, TIMEOUT_MS);
            assertTrue(!r.timedOut(), "closed: " + r);
            if (!r.aborted()) {
                lost++;
                example = r.toString();
            }
        }
        assertEquals(0, lost, "connections closed without the Abort (of 30); e.g. " + example);
        assertNoFailures("");
    }

    @Test
    void unknownKindHoldingAStructWithANegativePointerCountAborts() throws Exception {
        for (int pointers : new int[] {0x8000, 0xFFFF}) {
            Result r = exchange(negativePointerCount(pointers), false, null, TIMEOUT_MS);
            sleep(100);
            assertTrue(uncaught.isEmpty(), "nothing uncaught: " + uncaught);
            assertTrue(!r.timedOut() && r.closedByServer(), "the server aborted or closed: " + r);
        }
        awaitNoLiveServerConnections("after negative pointer counts");
        assertNoFailures("");
    }

    @Test
    void resultsSentElsewhereAreAnsweredWhileTheWriterIsIdle() throws Exception {
        Result r = exchange(List.of(new Step(bootstrap(0), answered(0)),
                new Step(call(1, promised(0), INIT_ID, 1, (short) 1, 0, 1, null), null)), false, answered(1), TIMEOUT_MS);
        assertTrue(!r.timedOut(), "question 1 answered: " + r);
        assertEquals(null, expectAnswersOrAbort(r, 1));
        assertNoFailures("");
    }

    @Test
    void properClientsAreServed() throws Exception {
        for (int i = 0; i < 20; i++) probe("#" + i);
        assertNoFailures("");
    }
}
