package dev.bitcoinmp.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The build's training run for bitcoin-cli's AOT cache ({@code target/lib/bitcoin-cli.aot}, which the launcher
 * uses when present). It starts a regtest {@code bitcoin-node -ipcbind=unix} in a temporary directory and records
 * one JVM, started with the launcher's JVM options and class path, that runs bitcoin-cli's {@code echo} once over
 * the unix socket and once over HTTP, so that the cache holds what either path loads.
 *
 * <p>Arguments: the build directory ({@code target}, holding {@code bin/}, {@code lib/} and {@code config/}).
 * With {@code --record <datadir>} as arguments, it is the recorded JVM.
 */
public final class CliAotTraining {
    private CliAotTraining() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--record")) {
            record(args[1]);
            return;
        }
        Path target = Path.of(args[0]).toAbsolutePath();
        Path data = Files.createTempDirectory("bitcoin-cli-training");
        Process node = null;
        try {
            Files.writeString(data.resolve("bitcoin.conf"), "regtest=1\n[regtest]\nrpcport=" + freePort() + "\nprinttoconsole=0\n");
            node = new ProcessBuilder(target.resolve("bin/bitcoin-node").toString(), "-datadir=" + data, "-ipcbind=unix")
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Path net = data.resolve("regtest");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(net.resolve(".cookie")) && Files.exists(net.resolve("node.sock")))) {
                if (!node.isAlive() || System.nanoTime() > deadline) throw new IllegalStateException("the training node did not start");
                Thread.sleep(50);
            }
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command().orElse("java"));
            command.addAll(jvmOptions(target.resolve("config/jvm.options")));
            command.add("-XX:AOTCacheOutput=" + target.resolve("lib/bitcoin-cli.aot"));
            // As the launcher starts bitcoin-cli.
            command.addAll(List.of("-Djdk.reflect.useNativeAccessorOnly=true", "-Dbitcoinmp.exe=bitcoin-cli", "-cp", target.resolve("lib") + "/*",
                    CliAotTraining.class.getName(), "--record", data.toString()));
            Process recorded = new ProcessBuilder(command).inheritIO().start();
            if (!recorded.waitFor(120, TimeUnit.SECONDS)) {
                recorded.destroyForcibly();
                throw new IllegalStateException("the training run did not finish");
            }
            if (recorded.exitValue() != 0) throw new IllegalStateException("the training run failed: " + recorded.exitValue());
        } finally {
            if (node != null) {
                node.destroy();
                if (!node.waitFor(30, TimeUnit.SECONDS)) node.destroyForcibly();
            }
            try (Stream<Path> files = Files.walk(data)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    /** The recorded JVM: {@code echo} over IPC, then over HTTP, each checked. */
    private static void record(String dataDir) {
        for (String ipc : List.of("-ipcconnect=unix", "-noipcconnect")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            InputStream none = InputStream.nullInputStream();
            int code = new BitcoinCli(none, new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8)).run(new String[] {"-datadir=" + dataDir, ipc, "echo", "training"});
            String printed = out.toString(StandardCharsets.UTF_8);
            if (code != 0 || !printed.equals("[\n  \"training\"\n]\n")) {
                throw new IllegalStateException(ipc + ": exit " + code + ", " + printed + err.toString(StandardCharsets.UTF_8));
            }
        }
    }

    /** The launcher's JVM options: config/jvm.options as the argument file the launcher passes, if it exists. */
    private static List<String> jvmOptions(Path file) {
        return Files.exists(file) ? List.of("@" + file) : List.of();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
