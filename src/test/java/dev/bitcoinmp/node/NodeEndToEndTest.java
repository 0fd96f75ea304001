package dev.bitcoinmp.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
        TestNode.writeLaunchers(bin);
    }

    @Test
    void bitcoinNodeEchoesThroughASpawnedChildAndStopsCleanly() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Path datadir = Files.createDirectories(bin.resolve("bitcoin-node-data"));
            TestNode node = TestNode.start(bin, "bitcoin-node", datadir);
            try {
                HttpResponse<String> reply = node.rpc("{\"jsonrpc\":\"2.0\",\"method\":\"echoipc\",\"params\":[\"hello\"],\"id\":1}");
                assertEquals(200, reply.statusCode());
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"hello\",\"id\":1}\n", reply.body());
                String log = node.debugLog();
                assertTrue(log.matches("(?s).*Process bitcoin-node pid \\d+ launched.*"), log);
                assertTrue(log.matches("(?s).*Process bitcoin-node pid \\d+ exited with status 0.*"), log);
                assertEquals(0, node.process().children().count(), "child reaped before the reply");
                reply = node.rpc("{\"jsonrpc\":\"2.0\",\"method\":\"stop\",\"id\":2}");
                assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"Bitcoin node stopping\",\"id\":2}\n", reply.body());
                assertTrue(node.awaitExit(Duration.ofSeconds(30)));
                assertEquals(0, node.process().exitValue());
                assertEquals("", node.stderr(), "nothing on stderr");
                assertFalse(Files.exists(node.netDir().resolve(".cookie")), "cookie deleted");
                assertFalse(Files.exists(node.netDir().resolve("bitcoind.pid")), "pid file deleted");
            } finally {
                node.kill();
            }
        });
    }

    @Test
    void bitcoindEchoesLocallyAndSigtermStopsIt() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Path datadir = Files.createDirectories(bin.resolve("bitcoind-data"));
            TestNode node = TestNode.start(bin, "bitcoind", datadir);
            try {
                HttpResponse<String> reply = node.rpc("{\"method\":\"echoipc\",\"params\":[\"hello\"],\"id\":1}");
                assertEquals("{\"result\":\"hello\",\"error\":null,\"id\":1}\n", reply.body());
                assertFalse(node.debugLog().contains("launched"), "no child");
                node.process().destroy();   // SIGTERM
                assertTrue(node.awaitExit(Duration.ofSeconds(30)));
                assertEquals(0, node.process().exitValue());
                assertEquals("", node.stderr(), "nothing on stderr");
                assertFalse(Files.exists(node.netDir().resolve(".cookie")), "cookie deleted");
            } finally {
                node.kill();
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
