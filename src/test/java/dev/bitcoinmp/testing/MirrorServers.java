package dev.bitcoinmp.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.IncomingCall;
import dev.bitcoinmp.capnp.OutgoingCall;
import dev.bitcoinmp.capnp.PendingCall;
import dev.bitcoinmp.capnp.RpcConnection;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Server;
import dev.bitcoinmp.capnp.StructOut;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * test.capnp's Mirror and Printer as servers and calls of the Cap'n Proto layer itself (no IPC conventions,
 * no thread handles): the tests of calls reflected back to their caller control exactly which call goes out
 * when, and check what arrives in which order.
 */
public final class MirrorServers {
    private MirrorServers() {}

    public static final long MIRROR_ID = 0xa4c70aaa480d05a9L;
    public static final long PRINTER_ID = 0xd6f3f596c12bd3d8L;
    public static final int REFLECT = 0;
    public static final int PRINT = 1;

    /** Mirror.reflect(printer): the call's PendingCall; its result (pointer 0) is the printer. */
    public static PendingCall reflect(Capability mirror, Capability printer) {
        OutgoingCall call = mirror.newCall(MIRROR_ID, REFLECT, 0, 1, 24);
        call.params().setCapIndex(0, call.addCap(printer));
        return call.send();
    }

    /** Printer.print(text) with no context. */
    public static PendingCall print(Capability printer, String text) {
        OutgoingCall call = printer.newCall(PRINTER_ID, PRINT, 0, 2, text.length() + 16);
        call.params().setText(1, text);
        return call.send();
    }

    /** How many lines of {@code log} equal {@code line}. */
    public static int count(List<String> log, String line) {
        return (int) log.stream().filter(line::equals).count();
    }

    /** Waits (up to 20 s) until {@code condition} holds. */
    public static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) Thread.sleep(5);
    }

    /** Waits until the connection's four tables are empty, and asserts that they are. */
    public static void assertTablesEmpty(RpcConnection connection) throws InterruptedException {
        waitUntil(() -> Arrays.stream(connection.tableSizes()).allMatch(n -> n == 0));
        assertArrayEquals(new int[] {0, 0, 0, 0}, connection.tableSizes(),
                connection.name() + ": questions, answers, imports, exports");
    }

    /**
     * reflect(printer) on {@code mirror}, and a print of "sleep:20000" pipelined on its result, which the
     * other side sends back to {@code printer}; returns once the printer runs it (after {@code letIn}, which
     * lets the client read).
     */
    public record SleepingCall(Capability mirror, PendingCall reflected, Capability promise, PendingCall sleeping) {
        public static SleepingCall start(RpcConnection client, RecordingPrinter printer, Runnable letIn)
                throws InterruptedException {
            Capability mirror = client.bootstrap();
            PendingCall reflected = reflect(mirror, Capability.local(printer));
            Capability promise = reflected.pipelinedCap((short) 0);
            PendingCall sleeping = print(promise, "sleep:20000");
            letIn.run();
            waitUntil(() -> printer.printed.contains("sleep:20000"));
            return new SleepingCall(mirror, reflected, promise, sleeping);
        }

        /** Lets go of the capabilities (once the answer to reflect is in). */
        public void close() {
            reflected.await().close();
            promise.close();
            mirror.close();
        }
    }

    /**
     * Answers reflect with the capability it was given. With a gate, the answer waits (on a thread of its
     * own) until the gate opens, so that calls pipelined on it arrive before it and wait for it.
     */
    public static final class MirrorServer implements Server {
        private final CountDownLatch gate;
        private final List<Thread> answering = Collections.synchronizedList(new ArrayList<>());

        public MirrorServer(CountDownLatch gate) {
            this.gate = gate;
        }

        @Override
        public void dispatch(IncomingCall call) {
            if (call.interfaceId() != MIRROR_ID || call.methodId() != REFLECT) {
                call.returnException(new RpcException(RpcException.Type.UNIMPLEMENTED, "not a Mirror method"));
                return;
            }
            Capability given = call.paramCap(call.params().getCapIndex(0));
            if (gate == null) {
                answer(call, given);
                return;
            }
            Thread thread = new Thread(() -> {
                try {
                    if (!gate.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("the gate never opened");
                    answer(call, given);
                } catch (InterruptedException | RuntimeException e) {
                    call.returnException(e);
                }
            }, "mirror-answer");
            answering.add(thread);
            thread.start();
        }

        private static void answer(IncomingCall call, Capability given) {
            StructOut results = call.initResults(0, 1, 24);
            results.setCapIndex(0, call.addResultCap(given));
            call.returnResults();
        }

        /** Waits for the threads that answered gated calls. */
        public void join() throws InterruptedException {
            for (Thread thread : List.copyOf(answering)) thread.join(10_000);
        }
    }

    /**
     * A Printer that records what it prints, in the order the calls reach it (it runs them where they are
     * dispatched). "sleep:ms" answers after that long on a thread of its own, or, when its caller cancels
     * it first, records "canceled sleep:ms" and answers with an exception.
     */
    public static final class RecordingPrinter implements Server {
        public final List<String> printed = Collections.synchronizedList(new ArrayList<>());
        public final List<String> canceled = Collections.synchronizedList(new ArrayList<>());
        private final List<Thread> sleepers = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void dispatch(IncomingCall call) {
            if (call.interfaceId() != PRINTER_ID || (call.methodId() != PRINT && call.methodId() != 0)) {
                call.returnException(new RpcException(RpcException.Type.UNIMPLEMENTED, "not a Printer method"));
                return;
            }
            if (call.methodId() == 0) {
                call.returnResults();
                return;
            }
            String text = call.params().getText(1);
            printed.add(text);
            if (!text.startsWith("sleep:")) {
                call.returnResults();
                return;
            }
            long millis = Long.parseLong(text.substring("sleep:".length()));
            AtomicBoolean answered = new AtomicBoolean();
            Thread sleeper = new Thread(() -> {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                    return;
                }
                if (answered.compareAndSet(false, true)) call.returnResults();
            }, "printer-sleep");
            sleepers.add(sleeper);
            sleeper.start();
            call.onCancel(() -> {
                if (!answered.compareAndSet(false, true)) return;
                canceled.add("canceled " + text);
                sleeper.interrupt();
                call.returnException(new RpcException(RpcException.Type.FAILED, "print canceled"));
            });
        }

        /** Waits for the threads of sleeping prints (interrupted ones end at once). */
        public void join() throws InterruptedException {
            for (Thread thread : List.copyOf(sleepers)) {
                thread.interrupt();
                thread.join(10_000);
            }
        }
    }
}
