package dev.bitcoinmp.cli;

import com.fasterxml.jackson.core.JsonToken;
import dev.bitcoinmp.node.Settings;
import dev.bitcoinmp.node.StartupError;
import dev.bitcoinmp.rpc.RpcHttpConfig;
import java.io.Console;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * {@code bitcoin-cli}: sends one JSON-RPC request to a node and prints the result as Core's bitcoin-cli does
 * (strings raw, other values pretty-printed, nothing for null; errors as {@code error code:} / {@code error
 * message:} on stderr with the code's absolute value as exit status). It reaches the node over its unix socket
 * ({@code -ipcconnect}, Init.makeRpc / Rpc.executeRpc) when there is one, else over HTTP with the cookie or
 * {@code -rpcuser}/{@code -rpcpassword}.
 */
public final class BitcoinCli {

    private final InputStream stdin;
    private final PrintStream out;
    private final PrintStream err;

    BitcoinCli(InputStream stdin, PrintStream out, PrintStream err) {
        this.stdin = stdin;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        // Bytes as Core writes them: UTF-8 whatever the locale says.
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), false, StandardCharsets.UTF_8);
        int code = new BitcoinCli(System.in, out, err).run(args);
        out.flush();
        err.flush();
        // The IPC connection's threads must not keep the process alive.
        Runtime.getRuntime().halt(code);
    }

    /** Runs with {@code args} (argv without argv[0]) and returns the exit status. */
    int run(String[] args) {
        CliOptions options = CliOptions.standard();
        int firstCommandArg = 0;
        while (firstCommandArg < args.length && args[firstCommandArg].startsWith("-")) firstCommandArg++;
        List<String> optionArgs = Arrays.asList(args).subList(0, firstCommandArg);
        for (String arg : optionArgs) {
            if (options.known(arg) == null) {
                err.print("Error parsing command line arguments: Invalid parameter " + arg + "\n");
                return 1;
            }
        }
        if (args.length == 0 || options.helpRequested(optionArgs)) {
            out.print(options.helpText());
            if (args.length == 0) {
                err.print("Error: too few parameters\n");
                return 1;
            }
            return 0;
        }
        if (options.flag(optionArgs, "version")) {
            out.print("bitcoin-cli (bitcoin-mp) RPC client version " + CliOptions.VERSION + "\n");
            return 0;
        }
        Settings settings;
        try {
            settings = Settings.load(optionArgs.toArray(new String[0]), options.forConfigFile());
        } catch (StartupError e) {
            String message = e.getMessage();
            // Core's bitcoin-cli says "Error reading configuration file: ..." where the node says "Error: Error reading ...".
            err.print((message.startsWith("Error: Error reading") ? message.substring("Error: ".length()) : message) + "\n");
            return 1;
        }
        List<String> commandArgs = new ArrayList<>(Arrays.asList(args).subList(firstCommandArg, args.length));
        String print;
        int status;
        try {
            Outcome outcome = commandLineRpc(settings, commandArgs);
            print = outcome.print;
            status = outcome.status;
        } catch (CliError e) {
            print = "error: " + e.getMessage();
            status = 1;
        }
        if (!print.isEmpty()) (status == 0 ? out : err).print(print + "\n");
        return status;
    }

    /** What to print, and the exit status (0: on stdout, else on stderr). */
    private record Outcome(String print, int status) {}

    private Outcome commandLineRpc(Settings settings, List<String> args) {
        String password = settings.get("rpcpassword", "");
        if (settings.getBool("stdinrpcpass", false)) {
            String line = readPassword();
            if (line == null) throw new CliError("-stdinrpcpass specified but failed to read from standard input");
            password = line;
        }
        if (settings.getBool("stdin", false)) args.addAll(readLines());
        if (args.isEmpty()) throw new CliError("too few parameters (need at least command)");
        String method = args.getFirst();
        String request = RpcRequest.build(method, args.subList(1, args.size()), settings.getBool("named", false));
        String reply = callWithWait(settings, request, password);
        Map<String, String> members = JsonText.members(reply);
        String error = members.get("error");
        if (error == null || JsonText.kind(error) == JsonToken.VALUE_NULL) {
            String result = members.get("result");
            JsonToken kind = JsonText.kind(result);
            if (kind == null || kind == JsonToken.VALUE_NULL) return new Outcome("", 0);
            if (kind == JsonToken.VALUE_STRING) return new Outcome(JsonText.scalar(result), 0);
            return new Outcome(JsonText.pretty(result), 0);
        }
        return parseError(error);
    }

    /** Core's ParseError: {@code error code: N} and {@code error message:} lines, exit status |N|. */
    private static Outcome parseError(String error) {
        StringBuilder print = new StringBuilder();
        String code = null;
        if (JsonText.kind(error) == JsonToken.START_OBJECT) {
            Map<String, String> fields = JsonText.members(error);
            code = fields.get("code");
            if (code != null && JsonText.kind(code) != JsonToken.VALUE_NULL) {
                print.append("error code: ").append(JsonText.scalar(code)).append('\n');
            }
            String message = fields.get("message");
            if (message != null && JsonText.kind(message) == JsonToken.VALUE_STRING) {
                print.append("error message:\n").append(JsonText.scalar(message));
            }
        } else {
            print.append("error: ").append(JsonText.compact(error));
        }
        JsonToken kind = JsonText.kind(code);
        if (kind != JsonToken.VALUE_NUMBER_INT) {
            throw new CliError("JSON value of type " + typeName(kind) + " is not of expected type number");
        }
        int value;
        try {
            value = Integer.parseInt(JsonText.scalar(code));
        } catch (NumberFormatException e) {
            throw new CliError("JSON integer out of range");
        }
        return new Outcome(print.toString(), Math.abs(value));
    }

    private static String typeName(JsonToken kind) {
        if (kind == null || kind == JsonToken.VALUE_NULL) return "null";
        return switch (kind) {
            case VALUE_TRUE, VALUE_FALSE -> "bool";
            case VALUE_STRING -> "string";
            case START_ARRAY -> "array";
            case START_OBJECT -> "object";
            default -> "number";
        };
    }

    /** Core's ConnectAndCallRPC: with {@code -rpcwait}, a node that is down or warming up is retried each second. */
    private String callWithWait(Settings settings, String request, String password) {
        boolean wait = settings.getBool("rpcwait", false);
        long timeout = atoi(settings.get("rpcwaittimeout", "0"));
        long deadline = System.nanoTime() + timeout * 1_000_000_000L;
        while (true) {
            try {
                String reply = callOnce(settings, request, password);
                if (wait && warmingUp(reply)) throw new ConnectionFailed("server in warmup");
                return reply;
            } catch (ConnectionFailed e) {
                if (wait && (timeout <= 0 || System.nanoTime() - deadline < 0)) {
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw new CliError("interrupted");
                    }
                } else {
                    throw new CliError("timeout on transient error: " + e.getMessage());
                }
            }
        }
    }

    private static boolean warmingUp(String reply) {
        String error = JsonText.members(reply).get("error");
        if (JsonText.kind(error) != JsonToken.START_OBJECT) return false;
        String code = JsonText.members(error).get("code");
        return code != null && JsonText.kind(code) == JsonToken.VALUE_NUMBER_INT && JsonText.scalar(code).equals("-28");
    }

    /** One attempt: over the unix socket where {@code -ipcconnect} says so, else over HTTP. The reply is an object. */
    private String callOnce(Settings settings, String request, String password) {
        String endpoint = endpoint(settings);
        String reply = null;
        String ipcconnect = settings.get("ipcconnect", "auto");
        if (!ipcconnect.equals("0")) {
            String rpcconnect = settings.get("rpcconnect", null);
            if (rpcconnect != null && !rpcconnect.equals("0")) {
                if (!ipcconnect.equals("auto")) throw new CliError("-rpcconnect and -ipcconnect options cannot both be enabled");
            } else {
                reply = IpcRpcCall.call(ipcconnect, settings.networkDataDir(), settings.chain().name, request, endpoint,
                        settings.get("rpcuser", ""));
            }
        }
        if (reply == null) reply = callHttp(settings, request, password, endpoint);
        return checkedReply(reply);
    }

    private String callHttp(Settings settings, String request, String password, String endpoint) {
        String rpcconnect = settings.get("rpcconnect", CliOptions.DEFAULT_RPCCONNECT);
        String host;
        int connectPort;
        try {
            // Split as -rpcbind is split (Core's SplitHostPort); port 0: none given.
            RpcHttpConfig.Endpoint endpointOf = RpcHttpConfig.Endpoint.parse(rpcconnect, 0);
            host = endpointOf.host();
            connectPort = endpointOf.port();
        } catch (IllegalArgumentException e) {
            if (e.getMessage().startsWith("Invalid port")) throw new CliError("Invalid port provided in -rpcconnect: " + rpcconnect);
            host = rpcconnect;   // an empty host: the connection attempt says what is wrong
            connectPort = 0;
        }
        int port = connectPort != 0 ? connectPort : settings.chain().rpcPort;
        String rpcport = settings.get("rpcport", null);
        if (rpcport != null) {
            int value = port(rpcport);
            if (value == 0) throw new CliError("Invalid port provided in -rpcport: " + rpcport);
            port = value;
            if (connectPort != 0) err.print("Warning: Port specified in both -rpcconnect and -rpcport. Using -rpcport " + port + "\n");
        }
        long seconds = atoi(settings.get("rpcclienttimeout", Integer.toString(CliOptions.DEFAULT_CLIENT_TIMEOUT)));
        int timeoutMillis = seconds <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, seconds * 1000);

        String credentials;
        CookieState cookie = null;
        if (password.isEmpty()) {
            String file = settings.get("rpccookiefile", ".cookie");
            if (file.equals("0")) {
                cookie = CookieState.DISABLED;
                credentials = "";
            } else {
                credentials = readCookie(settings.networkDataDir().resolve(file));
                cookie = credentials == null ? CookieState.ERROR : CookieState.OK;
                if (credentials == null) credentials = "";
            }
        } else {
            credentials = settings.get("rpcuser", "") + ":" + password;
        }
        String authorization = "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
        HttpPost.Reply reply = HttpPost.send(host, port, endpoint, authorization, request + "\n", timeoutMillis);
        int status = reply.status();
        if (status == 401) {
            String why = switch (cookie) {
                case null -> "Incorrect rpcuser or rpcpassword were specified.";
                case ERROR -> "Failed to read cookie file and no rpcpassword was specified.";
                case DISABLED -> "Cookie file was disabled via -norpccookiefile and no rpcpassword was specified.";
                case OK -> "Cookie file credentials were invalid and no rpcpassword was specified.";
            };
            throw new CliError("Authorization failed: " + why + " Configuration file: (" + configFile(settings) + ")");
        }
        if (status == 503) throw new CliError("Server response: " + reply.body());
        if (status >= 400 && status != 400 && status != 404 && status != 500) throw new CliError("server returned HTTP error " + status);
        if (reply.body().isEmpty()) throw new CliError("no response from server");
        return reply.body();
    }

    private enum CookieState { OK, ERROR, DISABLED }

    /** Core's GetAuthCookie: the file's first line is {@code user:password}; null if it cannot be read. */
    private static String readCookie(Path path) {
        try {
            String content = Files.readString(path, StandardCharsets.UTF_8);
            int newline = content.indexOf('\n');
            return newline < 0 ? content : content.substring(0, newline);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static Path configFile(Settings settings) {
        Path conf = Path.of(settings.get("conf", "bitcoin.conf"));
        return conf.isAbsolute() ? conf : settings.baseDataDir().resolve(conf);
    }

    /** A reply must be a JSON object with at least one member. */
    private static String checkedReply(String reply) {
        Map<String, String> members = JsonText.members(reply);
        if (members == null) {
            JsonToken kind = JsonText.pretty(reply) == null ? null : JsonText.kind(reply);
            if (kind == null) throw new CliError("couldn't parse reply from server");
            throw new CliError("JSON value of type " + typeName(kind) + " is not of expected type object");
        }
        if (members.isEmpty()) throw new CliError("expected reply to have result, error and id properties");
        return reply;
    }

    /** {@code /} or, with {@code -rpcwallet}, {@code /wallet/<name>} percent-encoded as libevent encodes it. */
    private static String endpoint(Settings settings) {
        String wallet = settings.get("rpcwallet", null);
        if (wallet == null || wallet.equals("0")) return "/";
        StringBuilder path = new StringBuilder("/wallet/");
        for (byte b : wallet.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
                path.append((char) c);
            } else {
                path.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return path.toString();
    }

    /** A port number 1-65535 in decimal digits only (Core's ToIntegral<uint16_t>), else 0. */
    static int port(String s) {
        if (s.isEmpty() || s.length() > 5) return 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return 0;
        int value = Integer.parseInt(s);
        return value <= 65535 ? value : 0;
    }

    /** Core's LocaleIndependentAtoi: the leading integer of {@code s}, 0 if there is none. */
    static long atoi(String s) {
        String t = s.strip();
        int i = 0;
        if (i < t.length() && (t.charAt(i) == '+' || t.charAt(i) == '-')) i++;
        int digits = i;
        while (i < t.length() && Character.isDigit(t.charAt(i)) && t.charAt(i) < 128) i++;
        if (i == digits) return 0;
        try {
            return Long.parseLong(t.substring(t.charAt(0) == '+' ? 1 : 0, i));
        } catch (NumberFormatException e) {
            return t.charAt(0) == '-' ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    private List<String> stdinLines;

    /** The first line of standard input, without echo on a terminal. */
    private String readPassword() {
        Console console = System.console();
        if (stdin == System.in && console != null && console.isTerminal()) {
            char[] password = console.readPassword("RPC password> ");
            return password == null ? null : new String(password);
        }
        List<String> lines = readLines();
        if (lines.isEmpty()) return null;
        stdinLines = lines.subList(1, lines.size());
        return lines.getFirst();
    }

    /** The (rest of the) lines of standard input, split on newlines as std::getline splits. */
    private List<String> readLines() {
        if (stdinLines != null) return stdinLines;
        byte[] bytes;
        try {
            bytes = stdin.readAllBytes();
        } catch (IOException e) {
            bytes = new byte[0];
        }
        List<String> lines = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '\n') {
                lines.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < bytes.length) lines.add(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
        stdinLines = lines;
        return lines;
    }
}
