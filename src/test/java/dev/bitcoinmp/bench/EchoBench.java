package dev.bitcoinmp.bench;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.ipc.SpawnedProcess;
import dev.bitcoinmp.mp.MpConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;

/**
 * Echo.echo round trips between this JVM and a spawned one over a socketpair, with libmultiprocess'
 * thread semantics (each caller thread has its own server thread), next to the C++ reference peer's plain
 * capnp echo measured in the same run. Prints medians and the ratios the targets are stated in.
 *
 * <p>Arguments: [path of mp_peer] (optional; without it only the Java figures are printed).
 */
public final class EchoBench {
    private EchoBench() {}

    public static void main(String[] args) throws Exception {
        String peer = args.length > 0 ? args[0] : null;
        int rounds = Integer.getInteger("rounds", 5);
        FdStream[] pair = FdStream.socketPair();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> argv = List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dbitcoinmp.debug=" + Boolean.getBoolean("bitcoinmp.debug"), "-Dbitcoinmp.waiter.spinMicros=" + Long.getLong("bitcoinmp.waiter.spinMicros", 200),
                "-cp", System.getProperty("java.class.path"), EchoChild.class.getName(), Integer.toString(pair[1].fd()));
        SpawnedProcess child = SpawnedProcess.spawn(argv, pair[1].fd());
        pair[1].close();
        Init init = MpConnection.connect(pair[0], Init.class, "bench");
        try {
            String small = "hello";
            String large = "x".repeat(100_000);
            List<String> lines = new ArrayList<>();
            // Warm-up, as JMH would: every Java workload until the JIT has compiled its paths (the first rounds
            // of the parallel ones ran at ~55% of their later speed before). Nothing of it is measured.
            long warmUntil = System.nanoTime() + Long.getLong("warmupSeconds", 8) * 1_000_000_000L;
            int warmRounds = 0;
            while (System.nanoTime() < warmUntil || warmRounds < 1) {
                sequential(init, small, 20_000);
                sequential(init, large, 3_000);
                parallel(init, small, 16, 4_000);
                parallel(init, large, 16, 400);
                warmRounds++;
            }
            System.out.println("warm-up: " + warmRounds + " rounds of the Java workloads, not measured");
            for (int round = 0; round < rounds; round++) {
                double javaSeqSmall = sequential(init, small, 20_000);
                double cppSeqSmall = peer == null ? Double.NaN : cpp(peer, 20_000, 5, 1)[0];
                double javaSeqLarge = sequential(init, large, 3_000);
                double cppSeqLarge = peer == null ? Double.NaN : cpp(peer, 3_000, 100_000, 1)[0];
                double javaParSmall = parallel(init, small, 16, 4_000);
                double cppParSmall = peer == null ? Double.NaN : cpp(peer, 40_000, 5, 16)[1];
                double javaParLarge = parallel(init, large, 16, 400);
                double cppParLarge = peer == null ? Double.NaN : cpp(peer, 5_000, 100_000, 16)[1];
                lines.add(String.format(Locale.ROOT,
                        "round %d: seq 5B java %.1f us cpp %.1f us | seq 100KB java %.1f us cpp %.1f us | "
                                + "16 callers 5B java %.0f/s cpp %.0f/s | 16 callers 100KB java %.0f/s cpp %.0f/s",
                        round, javaSeqSmall, cppSeqSmall, javaSeqLarge, cppSeqLarge, javaParSmall, cppParSmall,
                        javaParLarge, cppParLarge));
                System.out.println(lines.getLast());
                results.add(new double[] {javaSeqSmall, cppSeqSmall, javaSeqLarge, cppSeqLarge,
                        javaParSmall, cppParSmall, javaParLarge, cppParLarge});
            }
            double[] m = new double[8];
            for (int i = 0; i < 8; i++) {
                final int k = i;
                m[i] = median(results.stream().mapToDouble(r -> r[k]).toArray());
            }
            System.out.printf(Locale.ROOT, "MEDIANS over %d rounds%n", rounds);
            System.out.printf(Locale.ROOT, "sequential 5 B:      java %.1f us, C++ plain capnp %.1f us, ratio %.2fx (target <= 2x)%n", m[0], m[1], m[0] / m[1]);
            System.out.printf(Locale.ROOT, "sequential 100 KB:   java %.1f us, C++ plain capnp %.1f us, ratio %.2fx%n", m[2], m[3], m[2] / m[3]);
            System.out.printf(Locale.ROOT, "16 callers 5 B:      java %.0f calls/s, C++ 16 in flight %.0f calls/s, ratio %.2fx (target >= 0.5x)%n", m[4], m[5], m[4] / m[5]);
            System.out.printf(Locale.ROOT, "16 callers 100 KB:   java %.0f calls/s, C++ 16 in flight %.0f calls/s, ratio %.2fx%n", m[6], m[7], m[6] / m[7]);
        } finally {
            init.close();
            int status = child.waitFor();
            System.out.println("child exited with status " + status);
        }
    }

    private static final List<double[]> results = new ArrayList<>();

    /** Median round trip in microseconds of {@code n} calls from one thread (after a warm-up). */
    static double sequential(Init init, String text, int n) {
        try (Echo echo = init.makeEcho()) {
            for (int i = 0; i < n / 5; i++) check(echo.echo(text), text);
            long[] times = new long[n];
            for (int i = 0; i < n; i++) {
                long start = System.nanoTime();
                String back = echo.echo(text);
                times[i] = System.nanoTime() - start;
                check(back, text);
            }
            Arrays.sort(times);
            return times[n / 2] / 1000.0;
        }
    }

    /** Calls per second with {@code threads} callers, each with its own Echo and server thread. */
    static double parallel(Init init, String text, int threads, int perThread) throws Exception {
        CyclicBarrier barrier = new CyclicBarrier(threads + 1);
        List<Thread> workers = new ArrayList<>();
        Throwable[] failure = new Throwable[1];
        for (int t = 0; t < threads; t++) {
            Thread worker = new Thread(() -> {
                try (Echo echo = init.makeEcho()) {
                    for (int i = 0; i < perThread / 5; i++) check(echo.echo(text), text);
                    barrier.await();
                    for (int i = 0; i < perThread; i++) check(echo.echo(text), text);
                    barrier.await();
                } catch (Throwable e) {
                    failure[0] = e;
                    barrier.reset();
                }
            });
            worker.start();
            workers.add(worker);
        }
        barrier.await();
        long start = System.nanoTime();
        barrier.await();
        long elapsed = System.nanoTime() - start;
        for (Thread worker : workers) worker.join();
        if (failure[0] != null) throw new IllegalStateException("caller failed", failure[0]);
        return threads * (double) perThread / (elapsed / 1e9);
    }

    private static void check(String back, String sent) {
        if (back.length() != sent.length()) throw new IllegalStateException("echo returned " + back.length() + " chars");
    }

    /** The C++ peer's {median_us, calls_per_sec} for plain capnp echo over a socketpair. */
    private static double[] cpp(String peer, int iterations, int size, int inflight) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(peer, "bench", Integer.toString(iterations), Integer.toString(size), Integer.toString(inflight))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0 || !out.startsWith("median_us=")) throw new IOException("peer bench failed: " + out);
        String[] parts = out.split("\\s+");
        return new double[] {Double.parseDouble(parts[0].substring(10)), Double.parseDouble(parts[1].substring(14))};
    }

    static double median(double[] values) {
        double[] copy = values.clone();
        Arrays.sort(copy);
        return copy[copy.length / 2];
    }

    static boolean exists(String path) {
        return path != null && Files.isExecutable(Path.of(path));
    }
}
