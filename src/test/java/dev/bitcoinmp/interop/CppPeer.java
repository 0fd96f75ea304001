package dev.bitcoinmp.interop;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * The C++ reference peer ({@code src/test/cpp/mp_peer.c++}, on Debian's libcapnp-dev): builds it
 * once per JVM into {@code target/cpp-peer/}, starts it, and reads its stdout event lines.
 *
 * <p>Command line of the binary:
 * <pre>
 *   mp_peer serve-fd &lt;fd&gt;                 serve a TestInit on an inherited connected socket
 *   mp_peer serve-unix &lt;path&gt;             listen on a unix socket; prints "listening"
 *   mp_peer client-fd &lt;fd&gt; &lt;scenario&gt;     client scenario on an inherited socket
 *   mp_peer client-unix &lt;path&gt; &lt;scenario&gt;
 *   mp_peer bench &lt;iterations&gt; &lt;size&gt; &lt;inflight&gt;
 *   scenarios: echo, callback, exception, disconnect, destroyed-call, bad-thread, rpc
 * </pre>
 * The fd modes need a descriptor the JVM cannot hand to a {@link ProcessBuilder} child; spawn
 * {@link #binary()} with {@code dev.bitcoinmp.ipc.SpawnedProcess} for those.
 */
public final class CppPeer {
    /** Every external step of the build (capnp, pkg-config, g++) is bounded by this. */
    private static final Duration BUILD_STEP_TIMEOUT = Duration.ofMinutes(5);
    private static final String HEADER = "/usr/include/capnp/rpc-twoparty.h";

    private static final Path ROOT = projectRoot();
    private static final Path OUT = ROOT.resolve("target/cpp-peer");
    private static final Path GEN = OUT.resolve("gen");
    private static final Path LOGS = OUT.resolve("logs");
    private static final Path BINARY = OUT.resolve("mp_peer");
    private static final Path SOURCE = ROOT.resolve("src/test/cpp/mp_peer.c++");
    private static final Path MAIN_SCHEMA_ROOT = ROOT.resolve("src/main/capnp");
    private static final Path TEST_SCHEMA_ROOT = ROOT.resolve("src/test/capnp");
    private static final List<String> MAIN_SCHEMAS = List.of(
            "mp/proxy.capnp",
            "ipc/capnp/init.capnp",
            "ipc/capnp/echo.capnp",
            "ipc/capnp/rpc.capnp",
            "ipc/capnp/mining.capnp");
    private static final String TEST_SCHEMA = "test.capnp";

    private static final AtomicInteger STARTED = new AtomicInteger();
    private static final Map<Process, Path> STDERR = new ConcurrentHashMap<>();

    private static Path built;
    private static RuntimeException buildFailure;

    private CppPeer() {}

    /** Skips the calling test (or class) when the toolchain for the peer is not installed. */
    /** Builds the peer for scripts (the benchmark) and prints its path. */
    public static void main(String[] args) {
        System.out.println(binary());
    }

    public static void assumeAvailable() {
        String missing = missingTools();
        Assumptions.assumeTrue(missing == null,
                "C++ reference peer unavailable: install capnproto libcapnp-dev g++ pkg-config (missing "
                        + missing + ")");
    }

    /** The missing tools, comma-separated, or null when everything the build needs is there. */
    public static String missingTools() {
        List<String> missing = new ArrayList<>();
        for (String tool : List.of("capnp", "g++", "pkg-config")) {
            if (!onPath(tool)) {
                missing.add(tool);
            }
        }
        if (!Files.isRegularFile(Path.of(HEADER))) {
            missing.add(HEADER);
        }
        return missing.isEmpty() ? null : String.join(", ", missing);
    }

    /**
     * The peer binary, built on first use in this JVM unless an existing one is newer than the
     * source and every schema. A failed build throws (with the tools' output), here and on every
     * later call.
     */
    public static synchronized Path binary() {
        if (built != null) {
            return built;
        }
        if (buildFailure != null) {
            throw buildFailure;
        }
        try {
            Files.createDirectories(OUT);
            // Other JVMs (parallel surefire forks) may build into the same directory.
            try (FileChannel channel = FileChannel.open(OUT.resolve(".build.lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                FileLock lock = channel.lock();
                try {
                    if (!upToDate()) {
                        build();
                    }
                } finally {
                    lock.release();
                }
            }
            built = BINARY;
            return built;
        } catch (IOException e) {
            buildFailure = new UncheckedIOException("building the C++ reference peer failed", e);
            throw buildFailure;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the C++ reference peer", e);
        } catch (RuntimeException e) {
            buildFailure = e;
            throw e;
        }
    }

    /**
     * Starts the peer with {@code args}. Its stdin is closed, its stdout is a pipe (read it with
     * {@link Lines}) and its stderr goes to a file under {@code target/cpp-peer/logs/} (see
     * {@link #stderr(Process)}). Stop it with {@link #stop(Process)} in a finally block.
     */
    public static Process start(String... args) throws IOException {
        Path binary = binary();
        Files.createDirectories(LOGS);
        String mode = args.length == 0 ? "none" : args[0].replaceAll("[^A-Za-z0-9-]", "_");
        Path stderr = LOGS.resolve(mode + "-" + ProcessHandle.current().pid() + "-"
                + STARTED.incrementAndGet() + ".stderr");
        List<String> command = new ArrayList<>();
        command.add(binary.toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command)
                .directory(ROOT.toFile())
                .redirectError(stderr.toFile())
                .start();
        STDERR.put(process, stderr);
        process.getOutputStream().close();
        return process;
    }

    /** The file that receives the stderr of a process made by {@link #start}. */
    public static Path stderrFile(Process process) {
        Path file = STDERR.get(process);
        if (file == null) {
            throw new IllegalArgumentException("not started by CppPeer.start: " + process);
        }
        return file;
    }

    /** What the process has written to stderr so far ("" when nothing or unreadable). */
    public static String stderr(Process process) {
        Path file = STDERR.get(process);
        if (file == null) {
            return "";
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(stderr unreadable: " + e + ")";
        }
    }

    /**
     * Ends the process (and any child it forked) if it is still running and reaps it: SIGTERM,
     * then SIGKILL after 5 s. Bounded; safe to call on an exited process.
     */
    public static void stop(Process process) {
        if (process == null) {
            return;
        }
        try {
            List<ProcessHandle> children = process.descendants().toList();
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            }
            for (ProcessHandle child : children) {
                child.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** How a run of the peer to completion ended. */
    public record Result(int exitCode, List<String> stdout, String stderr) {
        /** For assertion messages. */
        public String describe() {
            return "exit " + exitCode + ", stdout " + stdout + ", stderr:\n" + stderr;
        }
    }

    /**
     * Runs the peer with {@code args} until it exits (a client scenario, bench): all its stdout
     * lines, exit status and stderr. Fails with an {@link AssertionError} if it has not exited
     * within {@code timeout}; the process is killed and reaped in every case.
     */
    public static Result run(Duration timeout, String... args) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Process process = start(args);
        try (Lines lines = new Lines(process)) {
            List<String> stdout = lines.readToEnd(timeout);
            long left = Math.max(0, deadline - System.nanoTime());
            if (!process.waitFor(left, TimeUnit.NANOSECONDS)) {
                throw new AssertionError("mp_peer " + String.join(" ", args) + " did not exit within "
                        + timeout + "; stdout " + stdout + ", stderr:\n" + stderr(process));
            }
            return new Result(process.exitValue(), stdout, stderr(process));
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
            }
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /**
     * The stdout lines of a peer process, read by a daemon thread as they come. The await methods
     * consume lines in order and fail with an {@link AssertionError} (listing the lines seen and
     * the process' stderr) on timeout or end of output; {@link #lines()} keeps everything read.
     */
    public static final class Lines implements AutoCloseable {
        private static final String EOF = new String("<end of output>");

        private final Process process;
        private final BufferedReader reader;
        private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final List<String> all = new ArrayList<>();
        private boolean ended;

        public Lines(Process process) {
            this.process = process;
            this.reader = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            Thread thread = new Thread(this::pump, "mp_peer-stdout-" + process.pid());
            thread.setDaemon(true);
            thread.start();
        }

        private void pump() {
            try {
                for (String line; (line = reader.readLine()) != null; ) {
                    synchronized (all) {
                        all.add(line);
                    }
                    queue.add(line);
                }
            } catch (IOException e) {
                // closed under us, or the process is gone: end of output either way
            } finally {
                queue.add(EOF);
            }
        }

        /** Every line read so far, consumed or not. */
        public List<String> lines() {
            synchronized (all) {
                return List.copyOf(all);
            }
        }

        /** The next line. */
        public String next(Duration timeout) throws InterruptedException {
            return await(line -> true, "any line", timeout);
        }

        /** The next {@code count} lines. */
        public List<String> next(int count, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            List<String> result = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                result.add(next(Duration.ofNanos(Math.max(0, deadline - System.nanoTime()))));
            }
            return result;
        }

        /** Consumes lines up to and including the first one equal to {@code expected}. */
        public void await(String expected, Duration timeout) throws InterruptedException {
            await(expected::equals, "\"" + expected + "\"", timeout);
        }

        /** Consumes lines up to and including the first one starting with {@code prefix}; returns it. */
        public String awaitPrefix(String prefix, Duration timeout) throws InterruptedException {
            return await(line -> line.startsWith(prefix), "a line starting with \"" + prefix + "\"",
                    timeout);
        }

        /** Consumes lines up to and including the first one that matches; returns it. */
        public String await(Predicate<String> wanted, String what, Duration timeout)
                throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                if (ended) {
                    throw failure("output ended before " + what);
                }
                long left = deadline - System.nanoTime();
                String line = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
                if (line == null) {
                    throw failure("no " + what + " within " + timeout);
                }
                if (line == EOF) {
                    ended = true;
                    continue;
                }
                if (wanted.test(line)) {
                    return line;
                }
            }
        }

        /** Waits for the end of output; returns all lines read (consumed or not). */
        public List<String> readToEnd(Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!ended) {
                long left = deadline - System.nanoTime();
                String line = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
                if (line == null) {
                    throw failure("output did not end within " + timeout);
                }
                if (line == EOF) {
                    ended = true;
                }
            }
            return lines();
        }

        private AssertionError failure(String what) {
            return new AssertionError("mp_peer (pid " + process.pid() + "): " + what + "; stdout so far "
                    + lines() + "; stderr:\n" + stderr(process));
        }

        /**
         * Stops reading; the process itself is left alone. Never blocks: the reader thread, if
         * still in a read, ends with the process' output.
         */
        @Override
        public void close() {
            try {
                // Not reader.close(): that waits for the lock a blocked readLine() holds.
                process.getInputStream().close();
            } catch (IOException e) {
                // nothing to do
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Build

    private static Path projectRoot() {
        String basedir = System.getProperty("basedir");
        Path start = Path.of(basedir != null ? basedir : System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("pom.xml"))
                    && Files.isRegularFile(dir.resolve("src/test/cpp/mp_peer.c++"))) {
                return dir;
            }
        }
        return start;
    }

    private static List<Path> inputs() {
        List<Path> inputs = new ArrayList<>();
        inputs.add(SOURCE);
        for (String schema : MAIN_SCHEMAS) {
            inputs.add(MAIN_SCHEMA_ROOT.resolve(schema));
        }
        inputs.add(TEST_SCHEMA_ROOT.resolve(TEST_SCHEMA));
        return inputs;
    }

    private static boolean upToDate() throws IOException {
        if (!Files.isExecutable(BINARY)) {
            return false;
        }
        FileTime binaryTime = Files.getLastModifiedTime(BINARY);
        for (Path input : inputs()) {
            if (Files.getLastModifiedTime(input).compareTo(binaryTime) >= 0) {
                return false;
            }
        }
        return true;
    }

    private static void build() throws IOException, InterruptedException {
        for (Path input : inputs()) {
            if (!Files.isRegularFile(input)) {
                throw new IllegalStateException("C++ reference peer: missing input " + input);
            }
        }
        deleteTree(GEN);
        Files.createDirectories(GEN);
        Path log = OUT.resolve("build.log");
        Files.deleteIfExists(log);

        List<String> compileMain = new ArrayList<>(List.of("capnp", "compile", "-oc++:" + GEN,
                "-I", MAIN_SCHEMA_ROOT.toString(), "--src-prefix=" + MAIN_SCHEMA_ROOT));
        for (String schema : MAIN_SCHEMAS) {
            compileMain.add(MAIN_SCHEMA_ROOT.resolve(schema).toString());
        }
        exec(compileMain, log);
        exec(List.of("capnp", "compile", "-oc++:" + GEN, "-I", MAIN_SCHEMA_ROOT.toString(),
                "--src-prefix=" + TEST_SCHEMA_ROOT, TEST_SCHEMA_ROOT.resolve(TEST_SCHEMA).toString()), log);

        String flags = exec(List.of("pkg-config", "--cflags", "--libs", "capnp-rpc"), log).strip();

        List<String> compile = new ArrayList<>(List.of("g++", "-std=c++17", "-O2", "-Wall", "-Wextra",
                "-I", GEN.toString(), "-o", OUT.resolve("mp_peer.tmp").toString(), SOURCE.toString()));
        try (Stream<Path> files = Files.walk(GEN)) {
            files.filter(p -> p.toString().endsWith(".capnp.c++"))
                    .sorted()
                    .forEach(p -> compile.add(p.toString()));
        }
        if (!flags.isEmpty()) {
            compile.addAll(List.of(flags.split("\\s+")));
        }
        exec(compile, log);
        Files.move(OUT.resolve("mp_peer.tmp"), BINARY, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    /** Runs one build step in the project directory; its output is returned and appended to log. */
    private static String exec(List<String> command, Path log) throws IOException, InterruptedException {
        Path output = Files.createTempFile(OUT, "step", ".out");
        try {
            Process process = new ProcessBuilder(command)
                    .directory(ROOT.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            process.getOutputStream().close();
            boolean exited;
            try {
                exited = process.waitFor(BUILD_STEP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } finally {
                if (process.isAlive()) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
            String text = Files.readString(output, StandardCharsets.UTF_8);
            Files.writeString(log, "$ " + String.join(" ", command) + "\n" + text,
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            if (!exited) {
                throw new IllegalStateException("C++ reference peer build step timed out after "
                        + BUILD_STEP_TIMEOUT + ": " + String.join(" ", command) + "\n" + text);
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("C++ reference peer build step failed (exit "
                        + process.exitValue() + "): " + String.join(" ", command) + "\n" + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
