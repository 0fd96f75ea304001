package dev.bitcoinmp.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.HealthCheck;
import com.github.dockerjava.api.model.Volume;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.ContainerLaunchException;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.startupcheck.StartupCheckStrategy;
import org.testcontainers.containers.wait.strategy.AbstractWaitStrategy;
import org.testcontainers.utility.DockerImageName;

/**
 * The node image as a user runs it (issue 5): bitcoin-node on regtest with RPC published on a host port,
 * {@code echoipc} spawning and reaping a child inside the container, the HEALTHCHECK, {@code docker stop}, a
 * start-up error, and the bitcoind variant with a cookie in a mounted data directory.
 */
class NodeContainerIT {

    private static final int RPC_PORT = 18443;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER = "tester";
    private static final String PASSWORD = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
    private static final Pattern LAUNCHED = Pattern.compile("\\[ipc] Process bitcoin-node pid (\\d+) launched");
    private static final Pattern EXITED_0 = Pattern.compile("\\[ipc] Process bitcoin-node pid (\\d+) exited with status 0");

    /** The bitcoin-node container most tests share (-debug=ipc, -rpcauth, a 1 s health check interval). */
    private static GenericContainer<?> node;

    @BeforeAll
    static void startNode() throws Exception {
        if (!NodeImage.dockerAvailable()) {   // each test is then skipped (below); the build log says why
            System.out.println("NodeContainerIT: " + NodeImage.NO_DOCKER);
            return;
        }
        node = container(NodeImage.get(), "-regtest", "-rpcbind=0.0.0.0", "-rpcallowip=0.0.0.0/0", "-debug=ipc",
                "-rpcauth=" + rpcauth(USER, PASSWORD))
                .withCreateContainerCmdModifier(cmd -> cmd.withHealthcheck(new HealthCheck().withInterval(TimeUnit.SECONDS.toNanos(1))))
                .waitingFor(new RpcReady(() -> USER + ":" + PASSWORD));
        long start = System.nanoTime();
        node.start();
        System.out.printf("container start to first RPC reply: %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    @BeforeEach
    void needsDocker() {
        NodeImage.assumeDocker();
    }

    @AfterAll
    static void stopNode() {
        if (node != null) node.close();
    }

    private static GenericContainer<?> container(String image, String... args) {
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(image)).withExposedPorts(RPC_PORT);
        return args.length == 0 ? container : container.withCommand(args);
    }

    /** Core's rpcauth line (share/rpcauth): user:salt$hex(HMAC-SHA256(key = salt, password)). */
    private static String rpcauth(String user, String password) throws Exception {
        String salt = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(salt.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return user + ":" + salt + "$" + HexFormat.of().formatHex(mac.doFinal(password.getBytes(StandardCharsets.UTF_8)));
    }

    private static HttpResponse<String> rpc(GenericContainer<?> container, String credentials, String method, String params)
            throws IOException, InterruptedException {
        URI uri = URI.create("http://" + container.getHost() + ":" + container.getMappedPort(RPC_PORT) + "/");
        HttpRequest request = HttpRequest.newBuilder(uri)
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8)))
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":" + params + "}"))
                .timeout(Duration.ofSeconds(60)).build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static String echoipc(GenericContainer<?> container, String credentials, String text) throws Exception {
        HttpResponse<String> reply = rpc(container, credentials, "echoipc", JSON.writeValueAsString(List.of(text)));
        assertEquals(200, reply.statusCode(), reply.body());
        JsonNode body = JSON.readTree(reply.body());
        assertTrue(body.get("error") == null || body.get("error").isNull(), reply.body());
        return body.get("result").asText();
    }

    /** Waits until the node in the container answers {@code uptime} through the mapped port. */
    private static final class RpcReady extends AbstractWaitStrategy {
        private final Supplier<String> credentials;   // null until they exist (a cookie not yet written)

        RpcReady(Supplier<String> credentials) {
            this.credentials = credentials;
            withStartupTimeout(Duration.ofSeconds(120));
        }

        @Override
        protected void waitUntilReady() {
            URI uri = URI.create("http://" + waitStrategyTarget.getHost() + ":" + waitStrategyTarget.getMappedPort(RPC_PORT) + "/");
            long deadline = System.nanoTime() + startupTimeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (!waitStrategyTarget.isRunning()) {
                    throw new ContainerLaunchException("the node exited before answering RPC: " + waitStrategyTarget.getLogs());
                }
                String auth = credentials.get();
                if (auth != null) {
                    HttpRequest request = HttpRequest.newBuilder(uri)
                            .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(auth.getBytes(StandardCharsets.UTF_8)))
                            .POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"uptime\"}"))
                            .timeout(Duration.ofSeconds(5)).build();
                    try {
                        if (HTTP.send(request, HttpResponse.BodyHandlers.ofString()).statusCode() == 200) return;
                    } catch (IOException e) {
                        // not listening yet (or the port forward not yet connected through)
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new ContainerLaunchException("interrupted", e);
                    }
                }
                try {
                    Thread.sleep(25);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ContainerLaunchException("interrupted", e);
                }
            }
            throw new ContainerLaunchException("no RPC reply from " + uri + " within " + startupTimeout.toSeconds() + " s");
        }
    }

    /** A process seen in the container's /proc: its stat fields and command line. */
    private record Proc(int pid, String comm, char state, int ppid, String cmdline) {}

    private static List<Proc> processes(GenericContainer<?> container) throws Exception {
        // A process gone between the glob and the read is skipped.
        var result = container.execInContainer("sh", "-c", "for d in /proc/[0-9]*; do s=$(cat $d/stat 2>/dev/null) || continue; "
                + "printf '%s\\t%s\\n' \"$s\" \"$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)\"; done");
        assertEquals(0, result.getExitCode(), result.getStderr());
        List<Proc> processes = new ArrayList<>();
        for (String line : result.getStdout().split("\n")) {
            if (line.isBlank()) continue;
            int tab = line.indexOf('\t');
            String stat = line.substring(0, tab);
            int open = stat.indexOf('(');
            int close = stat.lastIndexOf(')');   // the command name may hold parentheses and spaces
            String[] rest = stat.substring(close + 2).split(" ", 3);
            processes.add(new Proc(Integer.parseInt(stat.substring(0, open).trim()), stat.substring(open + 1, close),
                    rest[0].charAt(0), Integer.parseInt(rest[1]), line.substring(tab + 1).strip()));
        }
        return processes;
    }

    /**
     * Zombies that stay: a process is a zombie for a moment between its exit and its parent's wait (a health check
     * or {@code docker exec} process ending, say), so this looks again for up to 10 s before it gives up.
     */
    private static List<Proc> lastingZombies(GenericContainer<?> container) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            List<Proc> zombies = processes(container).stream().filter(p -> p.state() == 'Z').toList();
            if (zombies.isEmpty() || System.nanoTime() > deadline) return zombies;
            Thread.sleep(200);
        }
    }

    private static List<Proc> spawnedChildren(GenericContainer<?> container) throws Exception {
        return processes(container).stream().filter(p -> p.cmdline().contains("-ipcfd")).toList();
    }

    private static String debugLog(GenericContainer<?> container) throws Exception {
        var result = container.execInContainer("cat", "/data/regtest/debug.log");
        assertEquals(0, result.getExitCode(), result.getStderr());
        return result.getStdout();
    }

    /** Waits (up to 60 s) for Docker to call the container healthy; the output of its last health check. */
    private static String awaitHealthy(GenericContainer<?> container) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        InspectContainerResponse.ContainerState state = container.getCurrentContainerInfo().getState();
        while (!"healthy".equals(state.getHealth().getStatus()) && System.nanoTime() < deadline) {
            Thread.sleep(250);
            state = container.getCurrentContainerInfo().getState();
        }
        assertEquals("healthy", state.getHealth().getStatus(), String.valueOf(state.getHealth().getLog()));
        return state.getHealth().getLog().getLast().getOutput();
    }

    private static int count(Pattern pattern, String text) {
        Matcher matcher = pattern.matcher(text);
        int n = 0;
        while (matcher.find()) n++;
        return n;
    }

    @Test
    void echoipcThroughTheMappedPortRunsAChildThatExitsWithStatus0() throws Exception {
        assertEquals("hello", echoipc(node, USER + ":" + PASSWORD, "hello"));
        String log = debugLog(node);
        Matcher launched = LAUNCHED.matcher(log);
        assertTrue(launched.find(), log);
        assertTrue(log.contains("[ipc] Process bitcoin-node pid " + launched.group(1) + " exited with status 0"), log);
        assertEquals(List.of(), spawnedChildren(node), "the child is reaped before the reply");
        assertEquals("", node.getLogs(OutputFrame.OutputType.STDERR), "nothing on the node's stderr (no AOT or JVM warnings)");
    }

    @Test
    void eightConcurrentEchoipcCallsEachGetTheirOwnReply() throws Exception {
        String before = debugLog(node);
        List<Future<String>> replies = new ArrayList<>();
        try (ExecutorService callers = Executors.newFixedThreadPool(8)) {
            for (int i = 0; i < 8; i++) {
                String text = "caller " + i;
                replies.add(callers.submit(() -> echoipc(node, USER + ":" + PASSWORD, text)));
            }
            for (int i = 0; i < 8; i++) assertEquals("caller " + i, replies.get(i).get(120, TimeUnit.SECONDS));
        }
        String log = debugLog(node);
        assertEquals(count(LAUNCHED, before) + 8, count(LAUNCHED, log), log);
        assertEquals(count(EXITED_0, before) + 8, count(EXITED_0, log), log);
        assertEquals(List.of(), spawnedChildren(node));
        assertEquals(List.of(), lastingZombies(node));
        assertEquals("", node.getLogs(OutputFrame.OutputType.STDERR));
    }

    @Test
    void theNodeRunsAsTheUnprivilegedUserAndTheHealthCheckAsksItOverRpc() throws Exception {
        var status = node.execInContainer("sh", "-c", "grep '^Uid:' /proc/1/status");
        assertTrue(status.getStdout().matches("Uid:\\s+10001\\s+10001\\s+10001\\s+10001\\s*"), status.getStdout());
        String output = awaitHealthy(node);
        assertTrue(output.matches("RPC ready at http://127\\.0\\.0\\.1:18443/ \\(bitcoin-node pid \\d+\\), uptime \\d+ s\\n"), output);
        // The same check with options pointing elsewhere reports why it fails, with exit code 1.
        var wrongPort = node.execInContainer("/opt/bitcoin-mp/bin/healthcheck", "-regtest", "-datadir=/data", "-rpcport=1");
        assertEquals(1, wrongPort.getExitCode());
        assertTrue(wrongPort.getStdout().startsWith("unhealthy: no RPC reply from http://127.0.0.1:1/"), wrongPort.getStdout());
        var wrongPassword = node.execInContainer("/opt/bitcoin-mp/bin/healthcheck", "-regtest", "-datadir=/data",
                "-rpcuser=" + USER, "-rpcpassword=wrong");
        assertEquals(1, wrongPassword.getExitCode());
        assertTrue(wrongPassword.getStdout().startsWith("unhealthy: HTTP 401"), wrongPassword.getStdout());
    }

    @Test
    void dockerStopEndsTheNodeWithExitCode0WithinTenSecondsAndLeavesNoZombie() throws Exception {
        try (GenericContainer<?> stopped = container(NodeImage.get(), "-regtest", "-rpcbind=0.0.0.0", "-rpcallowip=0.0.0.0/0",
                "-debug=ipc", "-rpcauth=" + rpcauth(USER, PASSWORD)).waitingFor(new RpcReady(() -> USER + ":" + PASSWORD))) {
            stopped.start();
            assertEquals("before stop", echoipc(stopped, USER + ":" + PASSWORD, "before stop"));
            // An orphan: the exec'd shell ends at once and its background sleep is handed to PID 1, which must reap
            // it when it ends (a JVM as PID 1 would leave it a zombie for good).
            var orphan = stopped.execInContainer("sh", "-c", "sleep 0.3 & exit 0");
            assertEquals(0, orphan.getExitCode(), orphan.getStderr());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (processes(stopped).stream().anyMatch(p -> p.comm().equals("sleep") && p.state() != 'Z') && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(List.of(), lastingZombies(stopped));
            assertEquals(List.of(), spawnedChildren(stopped));

            long start = System.nanoTime();
            stopped.getDockerClient().stopContainerCmd(stopped.getContainerId()).withTimeout(10).exec();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.printf("docker stop: %d ms%n", millis);
            InspectContainerResponse.ContainerState state = stopped.getDockerClient().inspectContainerCmd(stopped.getContainerId())
                    .exec().getState();
            assertFalse(state.getRunning());
            assertEquals(0L, state.getExitCodeLong(), "exit code after docker stop");
            assertTrue(millis < 10_000, "docker stop took " + millis + " ms");
            String logs = stopped.getLogs(OutputFrame.OutputType.STDOUT);
            assertTrue(logs.contains("Shutdown: done"), logs);
            assertEquals("", stopped.getLogs(OutputFrame.OutputType.STDERR));
        }
    }

    /** Counts a container that has exited, whatever its exit code, as started. */
    private static final class UntilExited extends StartupCheckStrategy {
        @Override
        public StartupStatus checkStartupState(com.github.dockerjava.api.DockerClient client, String containerId) {
            return Boolean.TRUE.equals(getCurrentState(client, containerId).getRunning()) ? StartupStatus.NOT_YET_KNOWN
                    : StartupStatus.SUCCESSFUL;
        }
    }

    @Test
    void anUnknownOptionEndsTheContainerWithExitCode1AndTheErrorInItsLog() throws Exception {
        try (GenericContainer<?> failing = new GenericContainer<>(DockerImageName.parse(NodeImage.get()))
                .withCommand("-regtest", "-nosuchoption")
                .withStartupCheckStrategy(new UntilExited().withTimeout(Duration.ofSeconds(120)))) {
            failing.start();
            InspectContainerResponse.ContainerState state = failing.getCurrentContainerInfo().getState();
            assertEquals(1L, state.getExitCodeLong());
            assertEquals("Error: Invalid parameter -nosuchoption\n", failing.getLogs(OutputFrame.OutputType.STDERR));
        }
    }

    @Test
    void bitcoindAnswersEchoipcItselfWithTheCookieOfAMountedDataDirectory(@TempDir Path datadir) throws Exception {
        Path cookie = datadir.resolve("regtest/.cookie");
        Supplier<String> credentials = () -> {
            try {
                return Files.exists(cookie) ? Files.readString(cookie).strip() : null;
            } catch (IOException e) {
                return null;   // being written
            }
        };
        // The container writes as the owner of the mounted directory: the image's user 10001 (a root test run hands
        // the directory over), otherwise `--user` of whoever runs the tests, as the README suggests.
        int uid = (Integer) Files.getAttribute(datadir, "unix:uid");
        int gid = (Integer) Files.getAttribute(datadir, "unix:gid");
        if (uid == 0) {
            Files.setAttribute(datadir, "unix:uid", 10001);
            Files.setAttribute(datadir, "unix:gid", 10001);
        }
        try (GenericContainer<?> bitcoind = container(NodeImage.get(), "-regtest", "-rpcbind=0.0.0.0", "-rpcallowip=0.0.0.0/0", "-debug=ipc")
                .withEnv("BITCOINMP_EXE", "bitcoind")
                .withCreateContainerCmdModifier(cmd -> {
                    // Set on the container directly: Testcontainers' own file-system binds first check mounting with a
                    // helper container it would have to pull.
                    cmd.getHostConfig().withBinds(new Bind(datadir.toString(), new Volume("/data")));
                    cmd.withHealthcheck(new HealthCheck().withInterval(TimeUnit.SECONDS.toNanos(1)));
                    if (uid != 0) cmd.withUser(uid + ":" + gid);
                })
                .waitingFor(new RpcReady(credentials))) {
            bitcoind.start();
            assertEquals("hello", echoipc(bitcoind, credentials.get(), "hello"));
            String log = Files.readString(datadir.resolve("regtest/debug.log"));
            assertTrue(log.contains("bitcoind starting"), log);
            assertFalse(log.contains("launched"), "no child: " + log);
            assertEquals(List.of(), spawnedChildren(bitcoind));
            String health = awaitHealthy(bitcoind);
            assertTrue(health.contains("(bitcoind pid "), health);

            bitcoind.getDockerClient().stopContainerCmd(bitcoind.getContainerId()).withTimeout(10).exec();
            assertEquals(0L, bitcoind.getDockerClient().inspectContainerCmd(bitcoind.getContainerId()).exec().getState().getExitCodeLong());
            assertFalse(Files.exists(cookie), "the cookie is deleted at shutdown");
            assertEquals("", bitcoind.getLogs(OutputFrame.OutputType.STDERR));
        }
    }
}
