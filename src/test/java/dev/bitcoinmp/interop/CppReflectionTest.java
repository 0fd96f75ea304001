package dev.bitcoinmp.interop;

import static dev.bitcoinmp.testing.MirrorServers.assertTablesEmpty;
import static dev.bitcoinmp.testing.MirrorServers.count;
import static dev.bitcoinmp.testing.MirrorServers.waitUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.PendingCall;
import dev.bitcoinmp.capnp.ReaderLimits;
import dev.bitcoinmp.capnp.Response;
import dev.bitcoinmp.capnp.RpcConnection;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.testing.FrameGateStream;
import dev.bitcoinmp.testing.MirrorServers;
import dev.bitcoinmp.testing.MirrorServers.SleepingCall;
import dev.bitcoinmp.testing.MirrorServers.MirrorServer;
import dev.bitcoinmp.testing.MirrorServers.RecordingPrinter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calls reflected back to their caller and the embargo on the promise they were made on, against the C++
 * reference peer ({@code mp_peer serve-mirror-fd}, and the {@code reflect} client scenarios): test.capnp's
 * Mirror returns the printer it is given, so calls pipelined on its result before the answer is back come
 * back to the printer's side.
 *
 * <p>The C++ peer sends such calls back as tail calls (a Call with sendResultsTo.yourself, and a Return
 * with takeFromOtherQuestion for the original question); our side forwards them as plain calls. Either way
 * the calls made after the resolution must reach the printer after those (the Disembargo loop).
 */
class CppReflectionTest {
    private static final Duration STEP = Duration.ofSeconds(10);
    private static final Duration TEST = Duration.ofSeconds(60);

    @BeforeAll
    static void build() {
        CppPeer.assumeAvailable();
        CppPeer.binary();
    }

    // ==========================================================================================
    // A. Java client -> C++ Mirror: the C++ side reflects our calls (tail calls), we embargo

    @Test
    void javaCallsReflectedByTheCppPeerKeepTheirOrder(@TempDir Path tmp) throws Exception {
        javaClient(tmp, (client, log, stream) -> {
            RecordingPrinter printer = new RecordingPrinter();
            Capability mirror = client.bootstrap();
            PendingCall reflected = MirrorServers.reflect(mirror, Capability.local(printer));
            Capability promise = reflected.pipelinedCap((short) 0);
            List<PendingCall> calls = new ArrayList<>();
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "before " + i));
            // All of the above went out before anything came back. Then only the answers to bootstrap and
            // reflect: the calls sent back after them are not read yet when those after the resolution are
            // made, which must wait for them.
            stream.allow(2);
            reflected.await().close();
            assertSame(printer, promise.localServer(), "resolved to our own printer");
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "after " + i));
            stream.allowAll();
            for (PendingCall call : calls) call.await().close();

            assertEquals(List.of("before 1", "before 2", "before 3", "after 1", "after 2", "after 3"), printer.printed);
            assertEquals(3, count(log, "java-client <- call"), "the calls sent back: " + log);
            assertEquals(1, count(log, "java-client <- disembargo"), log::toString);
            promise.close();
            mirror.close();
        });
    }

    /**
     * reflect(printer) pipelined on the result of reflect(our own mirror): the C++ side sends it back as a
     * tail call carrying our printer, and the original question takes its results, our printer again.
     */
    @Test
    void capabilitiesGoThroughTheCppPeersTailCall(@TempDir Path tmp) throws Exception {
        javaClient(tmp, (client, log, stream) -> {
            RecordingPrinter printer = new RecordingPrinter();
            Capability mirror = client.bootstrap();
            Capability ownMirror = Capability.local(new MirrorServer(null));
            PendingCall outer = MirrorServers.reflect(mirror, ownMirror);
            Capability promisedMirror = outer.pipelinedCap((short) 0);
            PendingCall inner = MirrorServers.reflect(promisedMirror, Capability.local(printer));
            stream.allowAll();
            try (Response response = inner.await()) {
                Capability result = response.takeCap(response.results().getCapIndex(0));
                assertSame(printer, result.localServer(), "our printer came back as our own object");
                MirrorServers.print(result, "through the result").await().close();
                result.close();
            }
            assertEquals(List.of("through the result"), printer.printed);
            assertEquals(1, count(log, "java-client <- call"), log::toString);
            outer.await().close();
            promisedMirror.close();
            mirror.close();
        });
    }

    /** We give up on a call the C++ side sent back to us: it finishes its tail call, which cancels ours. */
    @Test
    void cancelingACallTheCppPeerReflected(@TempDir Path tmp) throws Exception {
        javaClient(tmp, (client, log, stream) -> {
            RecordingPrinter printer = new RecordingPrinter();
            SleepingCall call = SleepingCall.start(client, printer, stream::allowAll);
            call.sleeping().cancel();
            waitUntil(() -> !printer.canceled.isEmpty());
            assertEquals(List.of("canceled sleep:20000"), printer.canceled);
            call.close();
            printer.join();
        });
    }

    private interface ClientBody {
        void run(RpcConnection client, List<String> log, FrameGateStream stream) throws Exception;
    }

    /**
     * Runs {@code body} as a client of {@code mp_peer serve-mirror-fd} (reads held back until the body lets
     * frames in), then checks that our tables are empty with the connection still up, and that the peer
     * ends cleanly once we close it.
     */
    private static void javaClient(Path tmp, ClientBody body) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        FrameGateStream stream = new FrameGateStream(pair[0]);
        List<String> log = new CopyOnWriteArrayList<>();
        try (CppInteropTest.Peer peer = CppInteropTest.Peer.spawn(tmp, pair[1], "serve-mirror-fd")) {
            assertTimeoutPreemptively(TEST, () -> {
                RpcConnection client = new RpcConnection(stream, null, "java-client", ReaderLimits.DEFAULT, log::add).start();
                try {
                    body.run(client, log, stream);
                    assertTablesEmpty(client);
                    assertTrue(client.isOpen(), "the connection is still up");
                } finally {
                    client.close();
                }
                peer.await("disconnected", STEP);
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
                assertEquals("", peer.stderr());
            });
        } finally {
            stream.close();
        }
    }

    // ==========================================================================================
    // B. C++ client -> Java Mirror: we reflect the C++ side's calls, it embargoes

    @Test
    void cppCallsReflectedByUsKeepTheirOrder(@TempDir Path tmp) throws Exception {
        List<String> log = cppClient(tmp, "reflect", List.of(
                "print before 1", "print before 2", "print before 3", "resolved",
                "print after 1", "print after 2", "print after 3", "done"));
        assertEquals(3, count(log, "java-server <- call") - 1, "reflect and the three calls to forward: " + log);
        assertEquals(1, count(log, "java-server <- disembargo"), log::toString);
    }

    @Test
    void cppCancelsACallWeReflected(@TempDir Path tmp) throws Exception {
        List<String> log = cppClient(tmp, "reflect-cancel", List.of(
                "print sleep:20000", "canceling", "print canceled", "done"));
        assertTrue(log.contains("java-server <- finish"), log::toString);
    }

    /**
     * Runs the C++ client {@code scenario} against a Java Mirror; checks its lines up to the end of the
     * scenario, then that it released our objects and its printer was released by us, with our tables
     * empty while the connection is up. Returns what our side received.
     */
    private static List<String> cppClient(Path tmp, String scenario, List<String> expected) throws Exception {
        FdStream[] pair = FdStream.socketPair();
        List<String> log = new CopyOnWriteArrayList<>();
        MirrorServer mirror = new MirrorServer(null);
        RpcConnection server = new RpcConnection(pair[0], mirror, "java-server", ReaderLimits.DEFAULT, log::add).start();
        try (CppInteropTest.Peer peer = CppInteropTest.Peer.spawn(tmp, pair[1], "client-fd", scenario)) {
            assertTimeoutPreemptively(TEST, () -> {
                assertEquals(expected, peer.next(expected.size(), STEP), peer::describe);
                assertEquals(List.of("released printer", "released"), peer.next(2, STEP), peer::describe);
                assertTablesEmpty(server);
                assertTrue(server.isOpen(), "the C++ client waits for us to close");
                server.close();
                assertEquals(0, peer.awaitExitCode(STEP), peer::describe);
                assertEquals("", peer.stderr());
            });
        } finally {
            server.close();
        }
        return log;
    }

    // ==========================================================================================

}
