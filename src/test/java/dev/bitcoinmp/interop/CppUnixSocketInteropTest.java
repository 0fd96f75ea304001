package dev.bitcoinmp.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.ipc.IpcProcess;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.ipc.UnixAddress;
import dev.bitcoinmp.node.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unix-socket IPC against the C++ reference peer ({@code src/test/cpp/mp_peer.c++}): the C++ client connects to
 * a bitcoin-node's {@code -ipcbind} socket and uses Init, Echo and Rpc as Core's tools would; our Java client
 * connects to a socket the C++ peer listens on.
 */
class CppUnixSocketInteropTest {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final Duration TEST = Duration.ofSeconds(180);

    @TempDir
    static Path bin;

    @BeforeAll
    static void build() throws Exception {
        CppPeer.assumeAvailable();
        CppPeer.binary();
        TestNode.writeLaunchers(bin);
    }

    @Test
    void cppClientUsesTheNodesSocket() {
        assertTimeoutPreemptively(TEST, () -> {
            TestNode node = TestNode.start(bin, "bitcoin-node", Files.createDirectories(bin.resolve("node")), "-ipcbind=unix");
            try {
                String socket = node.netDir().resolve("node.sock").toString();
                CppPeer.Result echo = CppPeer.run(STEP, "client-unix", socket, "echo");
                assertEquals(0, echo.exitCode(), echo.describe());
                assertTrue(echo.stdout().containsAll(List.of("echo hallo", "echo ", "echo haha", "echo-len 100000", "destroyed")),
                        echo.describe());
                String thread = echo.stdout().stream().filter(l -> l.startsWith("thread ")).findFirst().orElseThrow();
                assertTrue(thread.matches("thread bitcoin-node-" + node.pid() + "/mp-worker-\\d+ \\(from cpp-client\\)"), thread);

                CppPeer.Result rpc = CppPeer.run(STEP, "client-unix", socket, "rpc");
                assertEquals(0, rpc.exitCode(), rpc.describe());
                assertTrue(rpc.stdout().contains("rpc {\"jsonrpc\":\"2.0\",\"result\":[\"cpp\",1],\"id\":1}"), rpc.describe());

                assertTrue(node.process().isAlive(), "the node serves on after its clients left");
                long deadline = System.nanoTime() + STEP.toNanos();
                while (!node.debugLog().matches("(?s)(.*IPC server: socket disconnected\\.){2}.*")) {
                    assertTrue(System.nanoTime() < deadline, node.debugLog());
                    Thread.sleep(20);
                }
                assertEquals("", node.stderr());
            } finally {
                node.kill();
            }
        });
    }

    @Test
    void javaClientUsesTheCppPeersSocket(@TempDir Path tmp) {
        assertTimeoutPreemptively(TEST, () -> {
            Path socket = tmp.resolve("peer.sock");
            Process server = CppPeer.start("serve-unix", socket.toString());
            try (CppPeer.Lines lines = new CppPeer.Lines(server)) {
                lines.await("listening", STEP);
                Init init = new Protocol("java").connect(IpcProcess.connect(new UnixAddress(socket)), "java-client");
                try (Echo echo = init.makeEcho()) {
                    for (String text : List.of("hallo", "", "haha")) assertEquals(text, echo.echo(text));
                }
                try (Rpc rpc = init.makeRpc()) {
                    assertEquals("uri=/wallet/w user=bob request={\"method\":\"echo\"}", rpc.executeRpc("{\"method\":\"echo\"}", "/wallet/w", "bob"));
                }
                init.close();
                lines.await("construct threadMap=set", STEP);
                lines.await("makeEcho", STEP);
                assertEquals(List.of("echo 5", "echo 0", "echo 4", "destroy echo", "released echo"), lines.next(5, STEP));
                lines.await("makeRpc", STEP);
                assertEquals(List.of("executeRpc /wallet/w", "released rpc"), lines.next(2, STEP));
                lines.await("disconnected", STEP);
                assertTrue(server.isAlive(), "the peer serves on");
                assertEquals("", CppPeer.stderr(server));
            } finally {
                CppPeer.stop(server);
            }
        });
    }
}
