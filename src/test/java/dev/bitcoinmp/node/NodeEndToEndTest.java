package dev.bitcoinmp.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node as a user runs it: a real JVM behind {@code bitcoind} / {@code bitcoin-node} launchers (made here
 * from the test class path), JSON-RPC over HTTP with the cookie, {@code echoipc} spawning a real child.
 */
class NodeEndToEndTest {

    @TempDir
    static Path bin;

    @BeforeAll
    static void launchers() throws Exception {
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

    private record Running(Process process, Path datadir, int port, Path stderr) {}

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Running start(String exe, Path datadir, String... extra) throws Exception {
        int port = freePort();
        List<String> command = new java.util.ArrayList<>(List.of(bin.resolve(exe).toString(), "-regtest",
                "-datadir=" + datadir, "-rpcport=" + port, "-printtoconsole=0", "-debug=ipc"));
        command.addAll(List.of(extra));
        Path stderr = datadir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(stderr.toFile()).start();
        Running node = new Running(process, datadir, port, stderr);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new AssertionError("node exited: " + Files.readString(stderr));
            if (Files.exists(datadir.resolve("regtest/.cookie"))) {
                try {
                    if (rpc(node, "{\"jsonrpc\":\"2.0\",\"method\":\"uptime\",\"id\":1}").statusCode() == 200) return node;
                } catch (java.io.IOException e) {
                    // not listening yet
                }
            }
            Thread.sleep(100);
        }
        process.destroyForcibly();
        throw new AssertionError("node did not answer within 30 s");
    }

    private static HttpResponse<String> rpc(Running node, String body) throws Exception {
        String cookie = Files.readString(node.datadir().resolve("regtest/.cookie"));
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + "/"))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(cookie.getBytes(StandardCharsets.UTF_8)))
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(30)).build();
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        }
    }

    @Test
    void bitcoinNodeEchoesThroughASpawnedChildAndStopsCleanly() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Path datadir = Files.createDirectories(bin.resolve("bitcoin-node-data"));
            Running node = start("bitcoin-node", datadir);
            try {
                HttpResponse<String> reply = rpc(node, "{\"jsonrpc\":\"2.0\",\"method\":\"echoipc\",\"params\":[\"hello\"],\"id\":1}");
                assertEquals(200, reply.statusCode());
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"hello\",\"id\":1}\n", reply.body());
                String log = Files.readString(datadir.resolve("regtest/debug.log"));
                assertTrue(log.matches("(?s).*Process bitcoin-node pid \\d+ launched.*"), log);
                assertTrue(log.matches("(?s).*Process bitcoin-node pid \\d+ exited with status 0.*"), log);
                assertEquals(0, node.process().children().count(), "child reaped before the reply");
                reply = rpc(node, "{\"jsonrpc\":\"2.0\",\"method\":\"stop\",\"id\":2}");
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"Bitcoin node stopping\",\"id\":2}\n", reply.body());
                assertTrue(node.process().waitFor(30, TimeUnit.SECONDS));
                assertEquals(0, node.process().exitValue());
                assertEquals("", Files.readString(node.stderr()), "nothing on stderr");
                assertFalse(Files.exists(datadir.resolve("regtest/.cookie")), "cookie deleted");
                assertFalse(Files.exists(datadir.resolve("regtest/bitcoind.pid")), "pid file deleted");
            } finally {
                node.process().destroyForcibly();
            }
        });
    }

    @Test
    void bitcoindEchoesLocallyAndSigtermStopsIt() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Path datadir = Files.createDirectories(bin.resolve("bitcoind-data"));
            Running node = start("bitcoind", datadir);
            try {
                HttpResponse<String> reply = rpc(node, "{\"method\":\"echoipc\",\"params\":[\"hello\"],\"id\":1}");
                assertEquals("{\"result\":\"hello\",\"error\":null,\"id\":1}\n", reply.body());
                assertFalse(Files.readString(datadir.resolve("regtest/debug.log")).contains("launched"), "no child");
                node.process().destroy();   // SIGTERM
                assertTrue(node.process().waitFor(30, TimeUnit.SECONDS));
                assertEquals(0, node.process().exitValue());
                assertEquals("", Files.readString(node.stderr()), "nothing on stderr");
                assertFalse(Files.exists(datadir.resolve("regtest/.cookie")), "cookie deleted");
            } finally {
                node.process().destroyForcibly();
            }
        });
    }

    @Test
    void startupErrorsGoToStderrWithExitCode1() throws Exception {
        Process p = new ProcessBuilder(bin.resolve("bitcoind").toString(), "-datadir=" + bin, "-nosuchoption")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue());
        assertEquals("Error: Invalid parameter -nosuchoption\n", new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        Process bad = new ProcessBuilder(bin.resolve("bitcoin-node").toString(), "-ipcfd", "+3").start();
        assertTrue(bad.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, bad.exitValue());
        assertEquals("Error: Invalid -ipcfd number '+3'\n", new String(bad.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
