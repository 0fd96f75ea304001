package dev.bitcoinmp.bench;

import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.ipc.IpcProcess;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.ipc.SpawnedProcess;
import dev.bitcoinmp.ipc.UnixAddress;
import dev.bitcoinmp.mp.MpConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Echo.echo round trips from this JVM to one spawned JVM over the two channels a node is reached by: the
 * socketpair a spawned child inherits ({@code -ipcfd}, FdStream) and a unix socket it listens on ({@code -ipcbind},
 * IpcListener and ChannelStream on both ends). Same server, same run, measurements interleaved; prints medians.
 */
public final class UnixEchoBench {
    private UnixEchoBench() {}

    public static void main(String[] args) throws Exception {
        int rounds = Integer.getInteger("rounds", 5);
        Path dir = Files.createTempDirectory("echo-bench");
        Path socket = dir.resolve("echo.sock");
        FdStream[] pair = FdStream.socketPair();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> argv = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                EchoChild.class.getName(), Integer.toString(pair[1].fd()), socket.toString());
        SpawnedProcess child = SpawnedProcess.spawn(argv, pair[1].fd());
        pair[1].close();
        Init viaPair = MpConnection.connect(pair[0], Init.class, "bench-socketpair");
        Init viaUnix = null;
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(socket)) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("the child never listened on " + socket);
                Thread.sleep(20);
            }
            viaUnix = new Protocol("bench").connect(IpcProcess.connect(new UnixAddress(socket)), "bench-unix");
            String small = "hello";
            String large = "x".repeat(100_000);
            List<double[]> results = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                double[] r = {
                    EchoBench.sequential(viaPair, small, 20_000), EchoBench.sequential(viaUnix, small, 20_000),
                    EchoBench.sequential(viaPair, large, 3_000), EchoBench.sequential(viaUnix, large, 3_000),
                    EchoBench.parallel(viaPair, small, 16, 4_000), EchoBench.parallel(viaUnix, small, 16, 4_000),
                };
                results.add(r);
                System.out.printf(Locale.ROOT, "round %d: seq 5B socketpair %.1f us unix %.1f us | seq 100KB socketpair %.1f us"
                        + " unix %.1f us | 16 callers 5B socketpair %.0f/s unix %.0f/s%n", round, r[0], r[1], r[2], r[3], r[4], r[5]);
            }
            double[] m = new double[6];
            for (int i = 0; i < m.length; i++) {
                int k = i;
                m[i] = EchoBench.median(results.stream().mapToDouble(r -> r[k]).toArray());
            }
            System.out.printf(Locale.ROOT, "MEDIANS over %d rounds (unix socket / socketpair)%n", rounds);
            System.out.printf(Locale.ROOT, "sequential 5 B:     socketpair %.1f us, unix socket %.1f us, ratio %.2fx%n", m[0], m[1], m[1] / m[0]);
            System.out.printf(Locale.ROOT, "sequential 100 KB:  socketpair %.1f us, unix socket %.1f us, ratio %.2fx%n", m[2], m[3], m[3] / m[2]);
            System.out.printf(Locale.ROOT, "16 callers 5 B:     socketpair %.0f calls/s, unix socket %.0f calls/s, ratio %.2fx%n", m[4], m[5], m[5] / m[4]);
        } finally {
            if (viaUnix != null) viaUnix.close();
            viaPair.close();
            System.out.println("child exited with status " + child.waitFor());
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }
}
