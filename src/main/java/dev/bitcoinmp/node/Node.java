package dev.bitcoinmp.node;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.IpcImpl;
import dev.bitcoinmp.rpc.CommandTable;
import dev.bitcoinmp.rpc.JsonRpcDispatcher;
import dev.bitcoinmp.rpc.RpcAuth;
import dev.bitcoinmp.rpc.RpcCookie;
import dev.bitcoinmp.rpc.RpcHttpConfig;
import dev.bitcoinmp.rpc.RpcHttpServer;
import dev.bitcoinmp.rpc.StandardCommands;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

/** A running node: settings, log, RPC server and methods, until {@code stop}, SIGTERM or SIGINT. */
final class Node {

    private final String exe;
    private final boolean hasIpc;
    private final String argv0;
    private final String[] args;
    private final CountDownLatch stopRequested = new CountDownLatch(1);

    Node(String exe, boolean hasIpc, String argv0, String[] args) {
        this.exe = exe;
        this.hasIpc = hasIpc;
        this.argv0 = argv0;
        this.args = args;
    }

    int run() {
        Options options = Options.node(hasIpc);
        Settings settings = Settings.load(args, options);
        if (settings.isSet("help") || settings.isSet("h") || settings.isSet("?")) {
            System.out.print(options.helpText(exe));
            return 0;
        }
        if (settings.isSet("version")) {
            System.out.println(exe + " (bitcoin-mp) version 0.1.0");
            return 0;
        }
        if (settings.getBool("daemon", false)) {
            throw new StartupError("Error: -daemon is not supported; run the node under a service manager instead.");
        }
        Path net = settings.networkDataDir();
        try {
            Files.createDirectories(net);
        } catch (IOException e) {
            throw new StartupError("Error: Cannot create data directory " + net + ": " + e.getMessage());
        }
        NodeLog log;
        try {
            log = new NodeLog(logFile(settings, net), settings.getBool("printtoconsole", true) ? System.out : null,
                    settings::debugCategory);
        } catch (IOException e) {
            throw new StartupError("Error: Could not open debug log file " + e.getMessage());
        }
        try (log) {
            return serve(settings, net, log);
        } catch (IOException e) {
            throw new StartupError("Error: " + e.getMessage());
        }
    }

    private static Path logFile(Settings settings, Path net) {
        String file = settings.get("debuglogfile", "debug.log");
        if (file.equals("0")) return null;   // -nodebuglogfile
        Path path = Path.of(file);
        return path.isAbsolute() ? path : net.resolve(path);
    }

    private int serve(Settings settings, Path net, NodeLog log) throws IOException {
        log.info(exe + " starting; chain " + settings.chain().name + ", data directory " + net);
        Path pidFile = net.resolve(settings.get("pid", "bitcoind.pid"));
        Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
        try {
            RpcAuth auth = auth(settings, net, log);
            IpcImpl ipc = hasIpc ? new IpcImpl(argv0, exe, log.enabled("ipc") ? line -> log.debug("ipc", () -> line) : null) : null;
            long start = System.nanoTime();
            JsonRpcDispatcher[] dispatcher = new JsonRpcDispatcher[1];
            CommandTable commands = StandardCommands.create(new StandardCommands.Node(start, stopRequested::countDown,
                    text -> echoIpc(ipc, text), () -> log.path() == null ? "" : log.path().toAbsolutePath().toString()),
                    () -> dispatcher[0]);
            dispatcher[0] = new JsonRpcDispatcher(commands, "Loading…");
            Consumer<String> info = log::info;
            List<RpcHttpConfig.Endpoint> endpoints;
            RpcHttpConfig config;
            try {
                endpoints = RpcHttpConfig.bindEndpoints(settings.all("rpcbind"), settings.all("rpcallowip"), settings.rpcPort(), info);
                RpcHttpConfig defaults = RpcHttpConfig.defaults(settings.rpcPort());
                config = new RpcHttpConfig(endpoints, settings.all("rpcallowip"),
                        settings.getInt("rpcthreads", RpcHttpConfig.DEFAULT_THREADS),
                        settings.getInt("rpcworkqueue", RpcHttpConfig.DEFAULT_WORK_QUEUE), defaults.maxHeaderBytes(),
                        defaults.maxBodyBytes(), defaults.idleTimeout(), defaults.shutdownTimeout());
            } catch (IllegalArgumentException e) {
                throw new StartupError("Error: " + e.getMessage());
            }
            RpcHttpServer server;
            try {
                server = new RpcHttpServer(config, auth, dispatcher[0], info);
            } catch (IllegalArgumentException e) {
                throw new StartupError("Error: " + e.getMessage());   // an invalid -rpcallowip, say
            }
            try {
                server.start();
            } catch (IOException e) {
                server.stop();
                throw new StartupError("Error: " + e.getMessage());
            }
            Signals.onTermOrInt(stopRequested::countDown);
            dispatcher[0].ready();
            log.info("Done loading");
            stopRequested.await();
            log.info("Shutdown: in progress");
            server.stop();
            log.info("Shutdown: done");
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            Files.deleteIfExists(pidFile);
        }
    }

    private RpcAuth auth(Settings settings, Path net, NodeLog log) throws IOException {
        RpcAuth.Builder auth = RpcAuth.builder();
        String password = settings.get("rpcpassword", "");
        if (!password.isEmpty()) {
            auth.user(settings.get("rpcuser", ""), password);
        } else if (!settings.get("rpccookiefile", ".cookie").equals("0")) {
            Path cookie = net.resolve(settings.get("rpccookiefile", ".cookie"));
            RpcCookie.Perms perms;
            try {
                perms = RpcCookie.Perms.parse(settings.get("rpccookieperms", "owner"));
            } catch (IllegalArgumentException e) {
                throw new StartupError("Error: " + e.getMessage());
            }
            auth.cookie(RpcCookie.generate(cookie, perms, log::info));
        }
        for (String entry : settings.all("rpcauth")) {
            try {
                auth.rpcauth(entry);
            } catch (IllegalArgumentException e) {
                throw new StartupError("Error: Invalid -rpcauth argument.");
            }
        }
        return auth.build();
    }

    /** bitcoin-node: a fresh child per call, reaped before the reply; bitcoind: echoed here. */
    private static String echoIpc(IpcImpl ipc, String text) {
        if (ipc == null) return new NodeInit.LocalEcho().echo(text);
        try (Init init = ipc.spawnProcess("bitcoin-node"); Echo echo = init.makeEcho()) {
            return echo.echo(text);
        } catch (RpcException e) {
            if (e.type() != RpcException.Type.DISCONNECTED) throw e;
            // The child is reaped by now (closing Init did it); its exit status is in debug.log under -debug=ipc.
            throw new RpcException(RpcException.Type.DISCONNECTED,
                    "the bitcoin-node child process ended before it answered (" + e.reason() + ")");
        }
    }
}
