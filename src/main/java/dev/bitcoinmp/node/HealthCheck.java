package dev.bitcoinmp.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcoinmp.rpc.RpcCookie;
import dev.bitcoinmp.rpc.RpcHttpConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;

/**
 * The container image's HEALTHCHECK: asks the running node for {@code uptime} over JSON-RPC and exits 0 only
 * when a result comes back (1 otherwise, with the reason on standard output, which Docker keeps in the health
 * log). Without arguments it finds the node among this machine's processes (a {@link NodeMain} that is not a
 * spawned {@code -ipcfd} child) and reads the settings from that node's own command line and config file, so it
 * follows whatever chain, data directory, port, {@code -rpcbind} and credentials the container was started with;
 * node options given as arguments are used instead.
 */
public final class HealthCheck {
    private HealthCheck() {}

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    /** Why the node is not healthy. */
    static final class Unhealthy extends Exception {
        Unhealthy(String message) {
            super(message);
        }
    }

    /** The executable name and options of a node process. */
    record NodeCommand(String exe, long pid, String[] args) {}

    public static void main(String[] args) {
        int code;
        try {
            NodeCommand node = args.length > 0 ? new NodeCommand(System.getProperty("bitcoinmp.exe", "bitcoin-node"), -1, args)
                    : findNode().orElseThrow(() -> new Unhealthy("no node process is running"));
            System.out.println(check(node));
            code = 0;
        } catch (Unhealthy e) {
            System.out.println("unhealthy: " + e.getMessage());
            code = 1;
        }
        System.exit(code);
    }

    /** The first node process visible here (not a spawned child), from its command line. */
    static Optional<NodeCommand> findNode() {
        return ProcessHandle.allProcesses()
                .map(process -> process.info().arguments().map(arguments -> nodeCommand(process.pid(), arguments)).orElse(null))
                .filter(Objects::nonNull)
                .findFirst();
    }

    /** The node's options if {@code arguments} (a java command line without the command) run a node; else null. */
    static NodeCommand nodeCommand(long pid, String[] arguments) {
        int main = Arrays.asList(arguments).indexOf(NodeMain.class.getName());
        if (main < 0) return null;
        String[] options = Arrays.copyOfRange(arguments, main + 1, arguments.length);
        if (options.length > 0 && options[0].equals("-ipcfd")) return null;
        String exe = "bitcoind";
        for (int i = 0; i < main; i++) {
            if (arguments[i].startsWith("-Dbitcoinmp.exe=")) exe = arguments[i].substring("-Dbitcoinmp.exe=".length());
        }
        return new NodeCommand(exe, pid, options);
    }

    /** Calls {@code uptime} on the node; a line for the health log when it answers. */
    static String check(NodeCommand node) throws Unhealthy {
        Settings settings;
        try {
            settings = Settings.load(node.args(), Options.node(node.exe().equals("bitcoin-node")));
        } catch (StartupError e) {
            throw new Unhealthy("cannot read the node's settings: " + e.getMessage());
        }
        RpcHttpConfig.Endpoint endpoint;
        try {
            endpoint = RpcHttpConfig.bindEndpoints(settings.all("rpcbind"), settings.all("rpcallowip"), settings.rpcPort(), line -> {})
                    .getFirst();
        } catch (IllegalArgumentException e) {
            throw new Unhealthy(e.getMessage());
        }
        String host = switch (endpoint.host()) {
            case "0.0.0.0" -> "127.0.0.1";
            case "::" -> "::1";
            default -> endpoint.host();
        };
        URI uri = URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + endpoint.port() + "/");
        String credentials = credentials(settings);
        HttpRequest request = HttpRequest.newBuilder(uri)
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8)))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":\"healthcheck\",\"method\":\"uptime\",\"params\":[]}"))
                .timeout(TIMEOUT).build();
        HttpResponse<String> response;
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(TIMEOUT).build()) {
            response = client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new Unhealthy("no RPC reply from " + uri + ": " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " " + e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unhealthy("interrupted");
        }
        JsonNode reply;
        try {
            reply = new ObjectMapper().readTree(response.body());
        } catch (IOException e) {
            reply = null;
        }
        if (reply == null || !reply.isObject()) {
            throw new Unhealthy("HTTP " + response.statusCode() + " from " + uri + " without a JSON-RPC reply");
        }
        JsonNode error = reply.get("error");
        if (error != null && !error.isNull()) throw new Unhealthy("RPC error from " + uri + ": " + error);
        JsonNode result = reply.get("result");
        if (response.statusCode() != 200 || result == null || !result.canConvertToLong()) {
            throw new Unhealthy("HTTP " + response.statusCode() + " from " + uri + ": " + response.body().strip());
        }
        return "RPC ready at " + uri + (node.pid() > 0 ? " (" + node.exe() + " pid " + node.pid() + ")" : "")
                + ", uptime " + result.asLong() + " s";
    }

    /** user:password as the node accepts them: -rpcuser/-rpcpassword, else its cookie. */
    private static String credentials(Settings settings) throws Unhealthy {
        String password = settings.get("rpcpassword", "");
        if (!password.isEmpty()) return settings.get("rpcuser", "") + ":" + password;
        String cookieFile = settings.get("rpccookiefile", ".cookie");
        if (cookieFile.equals("0")) {
            throw new Unhealthy("no credentials to use: the node has no -rpcpassword and its cookie is off (-norpccookiefile)");
        }
        Path path = settings.networkDataDir().resolve(cookieFile);
        try {
            RpcCookie cookie = RpcCookie.read(path);
            return cookie.user() + ":" + cookie.password();
        } catch (IOException e) {
            throw new Unhealthy("cannot read the RPC cookie " + path + ": " + e.getMessage());
        }
    }
}
