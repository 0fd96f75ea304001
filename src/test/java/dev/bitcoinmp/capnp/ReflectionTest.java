package dev.bitcoinmp.capnp;

import static dev.bitcoinmp.testing.MirrorServers.count;
import static dev.bitcoinmp.testing.MirrorServers.waitUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.testing.FrameGateStream;
import dev.bitcoinmp.testing.MirrorServers;
import dev.bitcoinmp.testing.MirrorServers.SleepingCall;
import dev.bitcoinmp.testing.MirrorServers.MirrorServer;
import dev.bitcoinmp.testing.MirrorServers.RecordingPrinter;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Calls that come back to their caller, Java to Java: a client pipelines calls on the result of
 * Mirror.reflect(its own printer) before the answer is back, so the server sends them back to the client
 * (forwarding them, with their parameters' capabilities, and answering with the forwarded call's results);
 * once the answer resolves the promise to the client's own printer, later calls are held by the embargo
 * until the Disembargo has come back, so that they arrive after the reflected ones. Every test ends with
 * empty tables on both sides.
 */
class ReflectionTest {
    private static final Duration TEST = Duration.ofSeconds(60);

    private final List<String> serverLog = new CopyOnWriteArrayList<>();
    private final List<String> clientLog = new CopyOnWriteArrayList<>();
    private final List<RpcConnection> connections = new ArrayList<>();
    private FrameGateStream clientStream;

    @AfterEach
    void closeAll() {
        for (RpcConnection connection : connections) connection.close();
    }

    /**
     * A server offering {@code bootstrap} and a client whose reads wait for {@link FrameGateStream}: what the
     * client sends before letting frames in goes out before any answer can reach it.
     */
    private static void assertTablesEmpty(RpcConnection... ends) throws InterruptedException {
        for (RpcConnection end : ends) MirrorServers.assertTablesEmpty(end);
    }

    private RpcConnection[] connect(Server bootstrap) throws IOException {
        FdStream[] pair = FdStream.socketPair();
        clientStream = new FrameGateStream(pair[1]);
        RpcConnection server = new RpcConnection(pair[0], bootstrap, "server", ReaderLimits.DEFAULT, serverLog::add).start();
        RpcConnection client = new RpcConnection(clientStream, null, "client", ReaderLimits.DEFAULT, clientLog::add).start();
        connections.add(server);
        connections.add(client);
        return new RpcConnection[] {server, client};
    }

    /**
     * Three prints pipelined on reflect's result before the answer, three after it: the printer sees all six
     * in order. Gated, the server answers reflect only after the pipelined calls arrived (they wait on the
     * answer, and go back before it); not gated, it answers at once (they arrive after the answer went out).
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void callsBeforeAndAfterTheResolutionArriveInOrder(boolean gated) throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            CountDownLatch gate = gated ? new CountDownLatch(1) : null;
            MirrorServer mirror = new MirrorServer(gate);
            RpcConnection[] ends = connect(mirror);
            RecordingPrinter printer = new RecordingPrinter();
            Capability mirrorCap = ends[1].bootstrap();
            Capability printerCap = Capability.local(printer);
            PendingCall reflected = MirrorServers.reflect(mirrorCap, printerCap);
            Capability promise = reflected.pipelinedCap((short) 0);
            List<PendingCall> calls = new ArrayList<>();
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "before " + i));
            if (gate != null) {
                // The calls wait on the answer and are sent back before it.
                waitUntil(() -> count(serverLog, "server <- call") == 4);   // reflect and the three prints
                gate.countDown();
                clientStream.allowAll();
            } else {
                // The answers to bootstrap and reflect only: the calls sent back after them are not read yet
                // when the calls after the resolution are made, which must wait for them.
                clientStream.allow(2);
            }
            reflected.await().close();
            assertSame(printer, promise.localServer(), "the promise resolved to the client's own printer");
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "after " + i));
            clientStream.allowAll();
            for (PendingCall call : calls) call.await().close();

            assertEquals(List.of("before 1", "before 2", "before 3", "after 1", "after 2", "after 3"), printer.printed);
            assertEquals(3, count(clientLog, "client <- call"), "the three calls made before the answer came back: " + clientLog);
            assertEquals(1, count(serverLog, "server <- disembargo"), serverLog::toString);
            assertEquals(1, count(clientLog, "client <- disembargo"), clientLog::toString);

            promise.close();
            mirrorCap.close();
            mirror.join();
            assertTablesEmpty(ends);
        });
    }

    /**
     * The reflected call carries a capability in its parameters and one in its results: reflect(printer)
     * pipelined on the result of reflect(our own mirror) comes back to our mirror, and its result, our
     * printer, goes back through the server to the original question.
     */
    @Test
    void capabilitiesInParametersAndResultsGoBothWays() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            RpcConnection[] ends = connect(new MirrorServer(null));
            MirrorServer ownMirror = new MirrorServer(null);
            RecordingPrinter printer = new RecordingPrinter();
            Capability mirrorCap = ends[1].bootstrap();
            Capability ownMirrorCap = Capability.local(ownMirror);
            Capability printerCap = Capability.local(printer);
            PendingCall outer = MirrorServers.reflect(mirrorCap, ownMirrorCap);
            Capability promisedMirror = outer.pipelinedCap((short) 0);
            PendingCall inner = MirrorServers.reflect(promisedMirror, printerCap);
            clientStream.allowAll();
            try (Response response = inner.await()) {
                Capability result = response.takeCap(response.results().getCapIndex(0));
                assertSame(printer, result.localServer(), "our printer came back as our own object");
                MirrorServers.print(result, "through the result").await().close();
                result.close();
            }
            assertEquals(List.of("through the result"), printer.printed);
            assertEquals(1, count(clientLog, "client <- call"), "the reflected reflect: " + clientLog);
            outer.await().close();
            promisedMirror.close();
            mirrorCap.close();
            assertTablesEmpty(ends);
        });
    }

    /** The caller gives up on a reflected call: the server cancels the call it sent back. */
    @Test
    void cancelingTheCallCancelsTheForwardedOne() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            RpcConnection[] ends = connect(new MirrorServer(null));
            RecordingPrinter printer = new RecordingPrinter();
            SleepingCall call = SleepingCall.start(ends[1], printer, clientStream::allowAll);
            call.sleeping().cancel();
            waitUntil(() -> !printer.canceled.isEmpty());
            assertEquals(List.of("canceled sleep:20000"), printer.canceled);
            call.close();
            printer.join();
            assertTablesEmpty(ends);
        });
    }

    /** The server goes away while a reflected call runs: the caller's call fails, the call sent back is canceled. */
    @Test
    void disconnectInTheMiddleEndsBothCalls() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            RpcConnection[] ends = connect(new MirrorServer(null));
            RecordingPrinter printer = new RecordingPrinter();
            SleepingCall call = SleepingCall.start(ends[1], printer, clientStream::allowAll);
            ends[0].close();
            RpcException e = assertThrows(RpcException.class, call.sleeping()::await);
            assertEquals(RpcException.Type.DISCONNECTED, e.type());
            waitUntil(() -> !printer.canceled.isEmpty());
            assertEquals(List.of("canceled sleep:20000"), printer.canceled);
            assertTrue(ends[1].awaitEnd(10, TimeUnit.SECONDS));
            call.promise().close();
            call.mirror().close();
            printer.join();
        });
    }

    /**
     * A call whose target is a capability of another connection is forwarded there: the server's Mirror
     * answers with a printer imported from a third party, and the calls pipelined on the result go on to it.
     */
    @Test
    void callsToAnotherConnectionsCapabilityAreForwarded() throws Exception {
        assertTimeoutPreemptively(TEST, () -> {
            RecordingPrinter far = new RecordingPrinter();
            FdStream[] farPair = FdStream.socketPair();
            RpcConnection farServer = new RpcConnection(farPair[0], far, "far-server").start();
            RpcConnection farClient = new RpcConnection(farPair[1], null, "far-client").start();
            connections.add(farServer);
            connections.add(farClient);
            Capability farPrinter = farClient.bootstrap();
            Server handsOutFar = call -> {
                StructOut results = call.initResults(0, 1, 24);
                results.setCapIndex(0, call.addResultCap(farPrinter));
                call.returnResults();
            };
            RpcConnection[] ends = connect(handsOutFar);
            Capability mirrorCap = ends[1].bootstrap();
            PendingCall reflected = MirrorServers.reflect(mirrorCap, null);
            Capability promise = reflected.pipelinedCap((short) 0);
            List<PendingCall> calls = new ArrayList<>();
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "pipelined " + i));
            clientStream.allowAll();
            reflected.await().close();
            for (int i = 1; i <= 3; i++) calls.add(MirrorServers.print(promise, "after " + i));
            for (PendingCall call : calls) call.await().close();
            assertEquals(List.of("pipelined 1", "pipelined 2", "pipelined 3", "after 1", "after 2", "after 3"), far.printed);
            promise.close();
            mirrorCap.close();
            assertTablesEmpty(ends);
            farPrinter.close();
            assertTablesEmpty(farServer, farClient);
        });
    }

}
