package dev.bitcoinmp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.ipc.IpcListener;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.rpc.CommandTable;
import dev.bitcoinmp.rpc.JsonRpcDispatcher;
import dev.bitcoinmp.rpc.RpcAuth;
import dev.bitcoinmp.rpc.RpcCookie;
import dev.bitcoinmp.rpc.RpcHttpConfig;
import dev.bitcoinmp.rpc.RpcHttpServer;
import dev.bitcoinmp.rpc.StandardCommands;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * bitcoin-cli against an in-process node (the real HTTP server, dispatcher and IPC listener): the same output and
 * exit status over IPC and HTTP, Core's texts for every failure, -ipcconnect's choices, -rpcwait, -stdin.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BitcoinCliTest {

    @TempDir
    Path dir;

    private Path net;
    private final List<String> log = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger httpCalls = new AtomicInteger();
    private final AtomicInteger ipcCalls = new AtomicInteger();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private JsonRpcDispatcher dispatcher;
    private int rpcPort;

    record Result(int code, String out, String err) {}

    @BeforeEach
    void node() throws IOException {
        net = dir.resolve("regtest");
        Files.createDirectories(net);
        JsonRpcDispatcher[] self = new JsonRpcDispatcher[1];
        CommandTable table = StandardCommands.create(new StandardCommands.Node(System.nanoTime(), () -> {}, s -> s,
                () -> net.resolve("debug.log").toString()), () -> self[0]);
        dispatcher = self[0] = new JsonRpcDispatcher(table, null);
        RpcCookie cookie = RpcCookie.generate(net.resolve(".cookie"), RpcCookie.Perms.OWNER, null);
        RpcAuth auth = RpcAuth.builder().cookie(cookie).user("alice", "secret").build();
        RpcHttpConfig config = RpcHttpConfig.defaults(0).withEndpoints(List.of(new RpcHttpConfig.Endpoint("127.0.0.1", 0)));
        RpcHttpServer server = new RpcHttpServer(config, auth, (body, uri, user) -> {
            httpCalls.incrementAndGet();
            return dispatcher.handle(body, uri, user);
        }, log::add);
        server.start();
        toClose.add(server::stop);
        rpcPort = server.boundAddresses().getFirst().getPort();
        Files.writeString(dir.resolve("bitcoin.conf"), "regtest=1\nserver=1\n[regtest]\nrpcport=" + rpcPort + "\nprinttoconsole=0\n");
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
    }

    /** The node's unix socket at {@code <datadir>/regtest/node.sock}, serving makeRpc through the same dispatcher. */
    private void listen() throws IOException {
        Init init = new Init() {
            @Override
            public Echo makeEcho() {
                throw new UnsupportedOperationException();
            }

            @Override
            public Rpc makeRpc() {
                return new Rpc() {
                    @Override
                    public String executeRpc(String request, String uri, String user) {
                        ipcCalls.incrementAndGet();
                        String body = dispatcher.handle(request, uri, user).body();
                        return body == null ? "null" : body.strip();
                    }

                    @Override
                    public void close() {}
                };
            }
        };
        IpcListener listener = new IpcListener(new Protocol("bitcoin-node"), init, 64, log::add, null);
        listener.listen(net, "unix");
        toClose.add(listener);
    }

    private Result cli(String... args) {
        return cliWithInput("", args);
    }

    private Result cliWithInput(String input, String... args) {
        List<String> all = new ArrayList<>();
        all.add("-datadir=" + dir);
        all.addAll(List.of(args));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        InputStream in = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        int code = new BitcoinCli(in, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(all.toArray(new String[0]));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static final String CONNECT_HINT = "\n\nProbably bitcoin-node is not running or not listening on a unix socket. Can be started with:\n\n"
            + "    bitcoin-node -chain=regtest -ipcbind=unix\n";

    @Test
    void sameOutputOverIpcAndHttp() throws IOException {
        listen();
        List<List<String>> commands = List.of(
                List.of("echo", "hello", "1", "{\"a\":1}", ""),
                List.of("echojson", "\"hello\"", "1.10", "{\"a\":[],\"b\":{}}", "null", "[true,false]"),
                List.of("echojson", "\"é € \\u0001 \\\" \\\\ 😀\""),
                List.of("echojson", "not json"),
                List.of("-named", "echo", "arg2=c", "a", "b"),
                List.of("-named", "echo", "arg1=x", "arg1=y"),
                List.of("-named", "echo", "nosuch=1"),
                List.of("echo", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"),
                List.of("echoipc"),
                List.of("nosuchmethod"),
                List.of("help"),
                List.of("help", "echo"),
                List.of("help", "nosuch"),
                List.of("echo"));
        for (List<String> command : commands) {
            List<String> ipcArgs = new ArrayList<>(List.of("-ipcconnect=unix"));
            ipcArgs.addAll(command);
            List<String> httpArgs = new ArrayList<>(List.of("-ipcconnect=0"));
            httpArgs.addAll(command);
            int ipcBefore = ipcCalls.get();
            int httpBefore = httpCalls.get();
            Result ipc = cli(ipcArgs.toArray(new String[0]));
            Result http = cli(httpArgs.toArray(new String[0]));
            assertEquals(http, ipc, command.toString());
            if (!command.equals(List.of("echojson", "not json"))) {
                assertEquals(ipcBefore + 1, ipcCalls.get(), "over IPC: " + command);
                assertEquals(httpBefore + 1, httpCalls.get(), "over HTTP: " + command);
            }
        }
        // Core's output for some of them, exactly.
        assertEquals(new Result(0, "[\n  \"hello\",\n  \"1\",\n  \"{\\\"a\\\":1}\",\n  \"\"\n]\n", ""), cli("echo", "hello", "1", "{\"a\":1}", ""));
        assertEquals(new Result(0, "[\n  \"hello\",\n  1.10,\n  {\n    \"a\": [\n    ],\n    \"b\": {\n    }\n  },\n  null,\n  [\n    true,\n    false\n  ]\n]\n", ""),
                cli("echojson", "\"hello\"", "1.10", "{\"a\":[],\"b\":{}}", "null", "[true,false]"));
        assertEquals(new Result(0, "[\n  \"é € \\u0001 \\\" \\\\ 😀\"\n]\n", ""), cli("echojson", "\"é € \\u0001 \\\" \\\\ 😀\""));
        assertEquals(new Result(0, "[\n  \"a\",\n  \"b\",\n  \"c\"\n]\n", ""), cli("-named", "echo", "arg2=c", "a", "b"));
        assertEquals(new Result(0, "[\n]\n", ""), cli("echo"));
        assertEquals(new Result(1, "", "error: Error parsing JSON: not json\n"), cli("echojson", "not json"));
        assertEquals(new Result(32601, "", "error code: -32601\nerror message:\nMethod not found\n"), cli("nosuchmethod"));
        assertEquals(new Result(8, "", "error code: -8\nerror message:\nUnknown named parameter nosuch\n"), cli("-named", "echo", "nosuch=1"));
        Result tooMany = cli("echo", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
        assertEquals(1, tooMany.code());
        assertTrue(tooMany.err().startsWith("error code: -1\nerror message:\necho"), tooMany.err());
        // A string result is printed raw.
        assertEquals(new Result(0, "help: unknown command: nosuch\n", ""), cli("help", "nosuch"));
        assertTrue(cli("help").out().startsWith("== Control =="));
        // The auto default takes the socket when there is one.
        int before = ipcCalls.get();
        assertEquals(0, cli("echo", "x").code());
        assertEquals(before + 1, ipcCalls.get());
    }

    @Test
    void ipcIgnoresHttpCredentials() throws IOException {
        listen();
        // As Core's test: a wrong password only matters over HTTP.
        assertEquals(new Result(0, "[\n  \"foo\"\n]\n", ""), cli("-rpcpassword=wrong", "echo", "foo"));
        assertEquals(new Result(1, "", "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified. Configuration file: ("
                + dir.resolve("bitcoin.conf") + ")\n"), cli("-rpcpassword=wrong", "-noipcconnect", "echo", "foo"));
        assertEquals(new Result(1, "", "error: -rpcconnect and -ipcconnect options cannot both be enabled\n"),
                cli("-ipcconnect=unix", "-rpcconnect=127.0.0.1", "echo", "foo"));
        // auto with -rpcconnect means HTTP.
        int before = ipcCalls.get();
        assertEquals(1, cli("-rpcpassword=wrong", "-rpcconnect=127.0.0.1", "echo", "foo").code());
        assertEquals(before, ipcCalls.get());
        assertEquals(0, cli("-rpcconnect=127.0.0.1", "echo", "foo").code());
        // A socket elsewhere, relative to the network data directory.
        assertEquals(0, cli("-ipcconnect=unix:" + net.resolve("node.sock"), "echo", "foo").code());
        assertEquals(0, cli("-ipcconnect=unix:node.sock", "echo", "foo").code());
    }

    @Test
    void autoFallsBackToHttpAndUnixDoesNot() throws IOException {
        // No socket file at all.
        assertEquals(new Result(0, "[\n  \"foo\"\n]\n", ""), cli("echo", "foo"));
        assertEquals(new Result(1, "", "error: timeout on transient error: No such file or directory" + CONNECT_HINT),
                cli("-ipcconnect=unix", "echo", "foo"));
        // A socket file nobody listens on (a node that was killed): refused.
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(net.resolve("node.sock")));
        }
        assertTrue(Files.exists(net.resolve("node.sock")));
        assertEquals(new Result(0, "[\n  \"foo\"\n]\n", ""), cli("echo", "foo"));
        assertEquals(new Result(1, "", "error: timeout on transient error: Connection refused" + CONNECT_HINT),
                cli("-ipcconnect=unix", "echo", "foo"));
        assertEquals(new Result(1, "", "error: timeout on transient error: Unrecognized address 'tcp:1'" + CONNECT_HINT),
                cli("-ipcconnect=tcp:1", "echo", "foo"));
        String longPath = "/tmp/" + "x".repeat(120) + ".sock";
        assertEquals(new Result(1, "", "error: timeout on transient error: Unix address path \"" + longPath
                + "\" exceeded maximum socket path length" + CONNECT_HINT), cli("-ipcconnect=unix:" + longPath, "echo", "foo"));
        assertEquals(0, ipcCalls.get());
    }

    @Test
    void credentials() throws IOException {
        assertEquals(0, cli("-noipcconnect", "-rpcuser=alice", "-rpcpassword=secret", "echo").code());
        String conf = " Configuration file: (" + dir.resolve("bitcoin.conf") + ")\n";
        assertEquals(new Result(1, "", "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified." + conf),
                cli("-noipcconnect", "-rpcuser=alice", "-rpcpassword=wrong", "echo"));
        assertEquals(new Result(1, "", "error: Authorization failed: Failed to read cookie file and no rpcpassword was specified." + conf),
                cli("-noipcconnect", "-rpccookiefile=nosuch", "echo"));
        assertEquals(new Result(1, "", "error: Authorization failed: Cookie file was disabled via -norpccookiefile and no rpcpassword was specified." + conf),
                cli("-noipcconnect", "-norpccookiefile", "echo"));
        Files.writeString(dir.resolve("other.cookie"), "__cookie__:0000\nignored second line");
        assertEquals(new Result(1, "", "error: Authorization failed: Cookie file credentials were invalid and no rpcpassword was specified." + conf),
                cli("-noipcconnect", "-rpccookiefile=" + dir.resolve("other.cookie"), "echo"));
        // The cookie's first line is all that counts.
        Files.writeString(dir.resolve("good.cookie"), Files.readString(net.resolve(".cookie")) + "\nsecond line");
        assertEquals(0, cli("-noipcconnect", "-rpccookiefile=" + dir.resolve("good.cookie"), "echo").code());
        // Settings from bitcoin.conf, the network section first.
        Files.writeString(dir.resolve("bitcoin.conf"), "regtest=1\n[regtest]\nrpcport=" + rpcPort + "\nrpcuser=alice\nrpcpassword=secret\nrpcthreads=4\n");
        assertEquals(0, cli("-noipcconnect", "-rpccookiefile=nosuch", "echo").code());
    }

    @Test
    void hostsAndPorts() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        String notRunning = "\n\nMake sure the bitcoind server is running and that you are connecting to the correct RPC port.\n"
                + "Use \"bitcoin-cli -help\" for more info.\n";
        assertEquals(new Result(1, "", "error: timeout on transient error: Could not connect to the server 127.0.0.1:" + closed + notRunning),
                cli("-rpcport=" + closed, "echo"));
        assertEquals(new Result(1, "", "Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport " + closed + "\n"
                + "error: timeout on transient error: Could not connect to the server 127.0.0.1:" + closed + notRunning),
                cli("-rpcconnect=127.0.0.1:" + rpcPort, "-rpcport=" + closed, "echo"));
        assertEquals(new Result(0, "[\n]\n", "Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport " + rpcPort + "\n"),
                cli("-rpcconnect=127.0.0.1:" + closed, "-rpcport=" + rpcPort, "echo"));
        assertEquals(new Result(0, "[\n]\n", ""), cli("-rpcconnect=127.0.0.1:" + rpcPort, "-conf=0", "-regtest", "echo"));
        assertEquals(new Result(1, "", "error: Invalid port provided in -rpcconnect: 127.0.0.1:0\n"), cli("-rpcconnect=127.0.0.1:0", "echo"));
        assertEquals(new Result(1, "", "error: Invalid port provided in -rpcport: 70000\n"), cli("-rpcport=70000", "echo"));
        assertEquals(new Result(1, "", "error: Invalid port provided in -rpcport: x\n"), cli("-noipcconnect", "-rpcport=x", "echo"));
    }

    @Test
    void commandLine() {
        Result help = cli("-help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("Usage: bitcoin-cli [options] <command> [params]"), help.out());
        assertTrue(help.out().contains("\n  -ipcconnect=<address>\n"), help.out());
        assertEquals("", help.err());
        assertEquals(help.out(), cli("-?").out());
        assertEquals(new Result(0, "bitcoin-cli (bitcoin-mp) RPC client version " + CliOptions.VERSION + "\n", ""), cli("-version"));
        assertEquals(new Result(1, "", "Error parsing command line arguments: Invalid parameter -rpcthreads=4\n"), cli("-rpcthreads=4", "echo"));
        assertEquals(new Result(1, "", "Error parsing command line arguments: Invalid parameter --foo=1\n"), cli("--foo=1", "echo"));
        assertEquals(new Result(1, "", "Error parsing command line arguments: Invalid parameter -regtest.rpcport=1\n"), cli("-regtest.rpcport=1", "echo"));
        // -version and -help come before the data directory and config file are looked at.
        assertEquals(0, cli("-datadir=" + dir.resolve("missing"), "-version").code());
        assertEquals(0, cli("-datadir=" + dir.resolve("missing"), "-noversion=0").code());
        assertEquals(1, cli("-datadir=" + dir.resolve("missing"), "-version=0", "echo").code());
        assertEquals(new Result(1, "", "error: too few parameters (need at least command)\n"), cli("-regtest"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new BitcoinCli(InputStream.nullInputStream(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(new String[0]);
        Result none = new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        assertEquals(new Result(1, help.out(), "Error: too few parameters\n"), none);
        Path missing = dir.resolve("missing");
        ByteArrayOutputStream err2 = new ByteArrayOutputStream();
        assertEquals(1, new BitcoinCli(InputStream.nullInputStream(), new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err2, true, StandardCharsets.UTF_8)).run(new String[] {"-datadir=" + missing, "echo"}));
        assertEquals("Error: Specified data directory \"" + missing + "\" does not exist.\n", err2.toString(StandardCharsets.UTF_8));
        // Options after the command are parameters.
        assertEquals(new Result(0, "[\n  \"-named\",\n  \"-1\"\n]\n", ""), cli("echo", "-named", "-1"));
    }

    @Test
    void stdin() {
        assertEquals(new Result(0, "[\n  \"a\",\n  \"b c\",\n  \"\",\n  \"d\\r\"\n]\n", ""), cliWithInput("a\nb c\n\nd\r\n", "-stdin", "echo"));
        assertEquals(new Result(0, "[\n  \"x\",\n  \"last\"\n]\n", ""), cliWithInput("last", "-stdin", "echo", "x"));
        assertEquals(new Result(0, "[\n  \"p\"\n]\n", ""), cliWithInput("secret\n", "-noipcconnect", "-rpcuser=alice", "-stdinrpcpass", "echo", "p"));
        assertEquals(new Result(0, "[\n  \"q\"\n]\n", ""), cliWithInput("secret\nq\n", "-noipcconnect", "-rpcuser=alice", "-stdinrpcpass", "-stdin", "echo"));
        assertEquals(new Result(1, "", "error: -stdinrpcpass specified but failed to read from standard input\n"),
                cliWithInput("", "-noipcconnect", "-stdinrpcpass", "echo"));
        // -stdin alone may also supply the method.
        assertEquals(new Result(0, "[\n  \"z\"\n]\n", ""), cliWithInput("echo\nz\n", "-stdin"));
    }

    @Test
    void rpcwaitWaitsThroughWarmUpAndRefusedConnections() throws Exception {
        dispatcher.warmingUp("Loading wallet…");
        assertEquals(new Result(28, "", "error code: -28\nerror message:\nLoading wallet…\n"), cli("echo"));
        Thread ready = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(1500);
            } catch (InterruptedException e) {
                return;
            }
            dispatcher.ready();
        });
        long start = System.nanoTime();
        assertEquals(new Result(0, "[\n  \"w\"\n]\n", ""), cli("-rpcwait", "echo", "w"));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(1000));
        ready.join();
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        start = System.nanoTime();
        Result timedOut = cli("-rpcwait", "-rpcwaittimeout=1", "-rpcport=" + closed, "echo");
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(1000));
        assertEquals(1, timedOut.code());
        assertTrue(timedOut.err().startsWith("error: timeout on transient error: Could not connect to the server 127.0.0.1:" + closed), timedOut.err());
    }

    @Test
    void httpRepliesCoreReportsAsErrors() throws Exception {
        assertEquals("error: Server response: Work queue depth exceeded\n", fakeServer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 25\r\n\r\nWork queue depth exceeded").err());
        assertEquals("error: server returned HTTP error 403\n", fakeServer("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").err());
        assertEquals("error: no response from server\n", fakeServer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").err());
        assertEquals("error: couldn't parse reply from server\n", fakeServer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").err());
        assertEquals("error: JSON value of type array is not of expected type object\n", fakeServer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]").err());
        assertEquals("error: expected reply to have result, error and id properties\n", fakeServer("HTTP/1.1 200 OK\r\n\r\n{}").err());
        // A legacy error reply with status 500, a chunked body, and a body ended by the connection's end.
        assertEquals(new Result(3, "", "error code: -3\nerror message:\nWrong type\n"),
                fakeServer("HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + chunk("{\"result\":null,\"") + chunk("error\":{\"code\":-3,\"message\":\"Wrong type\"},\"id\":1}") + "0\r\n\r\n"));
        assertEquals(new Result(0, "ok\n", ""), fakeServer("HTTP/1.1 200 OK\r\n\r\n{\"result\":\"ok\",\"error\":null,\"id\":1}"));
        assertEquals(new Result(0, "", ""), fakeServer(ok("{\"result\":null,\"id\":1}  ")));
        assertTrue(fakeServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"result\":").err()
                .startsWith("error: timeout on transient error: Could not connect to the server 127.0.0.1:"));
        // What the client sent: Core's request line and headers, the JSON-RPC 2.0 request and a newline.
        assertTrue(lastRequest.get().startsWith("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"), lastRequest.get());
        assertTrue(lastRequest.get().endsWith("\r\n\r\n{\"method\":\"echo\",\"params\":[\"x\"],\"id\":1,\"jsonrpc\":\"2.0\"}\n"), lastRequest.get());
        assertEquals(new Result(0, "", ""), fakeServer("HTTP/1.1 200 OK\r\n\r\n{\"result\":null,\"id\":1}", "-rpcwallet=my wallet/é"));
        assertTrue(lastRequest.get().startsWith("POST /wallet/my%20wallet%2F%C3%A9 HTTP/1.1\r\n"), lastRequest.get());
    }

    private static String chunk(String data) {
        return Integer.toHexString(data.getBytes(StandardCharsets.UTF_8).length) + "\r\n" + data + "\r\n";
    }

    private static String ok(String body) {
        return "HTTP/1.1 200 OK\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    private final AtomicReference<String> lastRequest = new AtomicReference<>();

    /** bitcoin-cli {@code echo x} against a server that reads the request and answers {@code reply} as given. */
    private Result fakeServer(String reply, String... extra) throws Exception {
        try (ServerSocket server = new ServerSocket(0)) {
            Thread thread = Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    ByteArrayOutputStream request = new ByteArrayOutputStream();
                    int length = -1;
                    while (true) {
                        int b = in.read();
                        if (b < 0) break;
                        request.write(b);
                        String text = request.toString(StandardCharsets.ISO_8859_1);
                        int headersEnd = text.indexOf("\r\n\r\n");
                        if (headersEnd >= 0 && length < 0) {
                            String lower = text.toLowerCase();
                            int at = lower.indexOf("content-length: ");
                            length = Integer.parseInt(lower.substring(at + 16, lower.indexOf("\r\n", at)).strip());
                        }
                        if (length >= 0 && request.size() >= headersEnd + 4 + length) break;
                    }
                    lastRequest.set(request.toString(StandardCharsets.UTF_8));
                    OutputStream out = s.getOutputStream();
                    out.write(reply.getBytes(StandardCharsets.UTF_8));
                    out.flush();
                } catch (IOException e) {
                    // the test sees what the client made of it
                }
            });
            List<String> args = new ArrayList<>(List.of("-noipcconnect", "-rpcpassword=x", "-rpcclienttimeout=2", "-rpcport=" + server.getLocalPort()));
            args.addAll(List.of(extra));
            args.addAll(List.of("echo", "x"));
            Result result = cli(args.toArray(new String[0]));
            thread.join(10_000);
            return result;
        }
    }
}
