package dev.bitcoinmp.node;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A node as a user runs it, for end-to-end tests: a real JVM behind {@code bitcoind} / {@code bitcoin-node}
 * launchers made from the test class path (the build installs its own launchers only after the tests), on
 * regtest with a free RPC port, stdout discarded and stderr kept in {@code <datadir>/stderr.txt}.
 */
public final class TestNode {

    private final Process process;
    private final Path datadir;
    private final int port;
    private final Path stderr;

    private TestNode(Process process, Path datadir, int port, Path stderr) {
        this.process = process;
        this.datadir = datadir;
        this.port = port;
        this.stderr = stderr;
    }

    /** Writes {@code bitcoind} and {@code bitcoin-node} launchers into {@code bin}. */
    public static void writeLaunchers(Path bin) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (String exe : List.of("bitcoind", "bitcoin-node")) {
            String script = "#!/bin/sh\nexec '" + java + "' --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1"
                    + " -Dbitcoinmp.exe=" + exe + " -Dbitcoinmp.argv0=\"$0\" -cp '" + System.getProperty("java.class.path")
                    + "' " + NodeMain.class.getName() + " \"$@\"\n";
            Path launcher = bin.resolve(exe);
            Files.writeString(launcher, script);
            Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static List<String> command(Path bin, String exe, Path datadir, int port, String... extra) {
        List<String> command = new ArrayList<>(List.of(bin.resolve(exe).toString(), "-regtest",
                "-datadir=" + datadir, "-rpcport=" + port, "-printtoconsole=0", "-debug=ipc"));
        command.addAll(List.of(extra));
        return command;
    }

    /** Starts {@code exe} and waits (up to 60 s) until its JSON-RPC server answers. */
    public static TestNode start(Path bin, String exe, Path datadir, String... extra) throws Exception {
        int port = freePort();
        Path stderr = datadir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command(bin, exe, datadir, port, extra))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
        TestNode node = new TestNode(process, datadir, port, stderr);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new AssertionError("node exited: " + Files.readString(stderr));
            if (Files.exists(node.netDir().resolve(".cookie"))) {
                try {
                    if (node.rpc("{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"id\":1}").statusCode() == 200) return node;
                } catch (IOException e) {
                    // not listening yet
                }
            }
            Thread.sleep(100);
        }
        process.destroyForcibly();
        throw new AssertionError("node did not answer within 60 s");
    }

    /** How a start-up that was meant to fail ended. */
    public record Failed(int exitCode, String stderr) {}

    /** Runs {@code exe} expecting it to end by itself within 60 s (a start-up error, say). */
    public static Failed run(Path bin, String exe, Path datadir, String... extra) throws Exception {
        Process process = new ProcessBuilder(command(bin, exe, datadir, freePort(), extra))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) throw new AssertionError("node did not exit: " + err);
            return new Failed(process.exitValue(), err);
        } finally {
            process.destroyForcibly();
        }
    }

    public HttpResponse<String> rpc(String body) throws IOException, InterruptedException {
        String cookie = Files.readString(netDir().resolve(".cookie"));
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(cookie.getBytes(StandardCharsets.UTF_8)))
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(30)).build();
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        }
    }

    public Process process() {
        return process;
    }

    public long pid() {
        return process.pid();
    }

    public Path datadir() {
        return datadir;
    }

    /** The regtest network data directory. */
    public Path netDir() {
        return datadir.resolve("regtest");
    }

    public String debugLog() throws IOException {
        return Files.readString(netDir().resolve("debug.log"));
    }

    public String stderr() throws IOException {
        return Files.readString(stderr);
    }

    /** Waits until the process has exited; false if it has not within {@code timeout}. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Kills the process if it still runs (for finally blocks). */
    public void kill() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }
}
