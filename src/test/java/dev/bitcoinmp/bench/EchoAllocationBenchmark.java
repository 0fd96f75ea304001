package dev.bitcoinmp.bench;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.mp.MpConnection;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Echo.echo through a real socketpair with client and server in one JVM, so that JMH's
 * {@code -prof gc} ({@code gc.alloc.rate.norm}) counts the bytes both sides allocate per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class EchoAllocationBenchmark {

    @Param({"5", "100000"})
    public int size;

    private Init init;
    private Echo echo;
    private MpConnection server;
    private String text;

    @Setup(Level.Trial)
    public void connect() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        server = MpConnection.serve(pair[0], EchoChild.echoingInit(), Init.class, "bench-server");
        init = MpConnection.connect(pair[1], Init.class, "bench-client");
        echo = init.makeEcho();
        text = "x".repeat(size);
    }

    @Benchmark
    public String echo() {
        return echo.echo(text);
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        echo.close();
        init.close();
        server.awaitEnd(5, TimeUnit.SECONDS);
    }
}
