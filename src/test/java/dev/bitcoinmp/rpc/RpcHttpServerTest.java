package dev.bitcoinmp.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The RPC HTTP server against RPC-FACTS sections 1 and 2, over real sockets. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RpcHttpServerTest {

    private static final String USER = "alice";
    private static final String PASSWORD = "correct horse";
    private static final String GOOD_AUTH = basic(USER + ":" + PASSWORD);
    private static final int LIMIT = 33_554_432;

    private final List<String> log = Collections.synchronizedList(new ArrayList<>());
    private final List<RpcHttpServer> servers = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final CountDownLatch slowEntered = new CountDownLatch(1);
    private final CountDownLatch slowRelease = new CountDownLatch(1);
    private RpcHttpServer server;
    private int port;
    private String host = "127.0.0.1";

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        slowRelease.countDown();
        for (RpcHttpServer s : servers) s.stop();
        client.close();
        // Every thread the server started has ended.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left;
        do {
            left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(name -> name.startsWith("rpc-")).toList();
            if (left.isEmpty()) break;
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        assertEquals(List.of(), left, "threads left running");
    }

    // ---------------------------------------------------------------- set-up helpers

    private static String basic(String userColonPassword) {
        return "Basic " + Base64.getEncoder().encodeToString(userColonPassword.getBytes(StandardCharsets.UTF_8));
    }

    private RpcAuth defaultAuth() {
        return RpcAuth.builder().user(USER, PASSWORD).build();
    }

    private RpcHttpConfig loopbackConfig() {
        return RpcHttpConfig.defaults(0).withEndpoints(List.of(new RpcHttpConfig.Endpoint("127.0.0.1", 0)));
    }

    /** A dispatcher with the standard methods plus {@code slow} (waits for the test) and {@code boom} (throws an Error). */
    private JsonRpcDispatcher dispatcher(Runnable onStop) {
        StandardCommands.Node node = new StandardCommands.Node(System.nanoTime(), onStop, s -> s, () -> "/tmp/debug.log");
        JsonRpcDispatcher[] self = new JsonRpcDispatcher[1];
        CommandTable table = StandardCommands.create(node, () -> self[0]);
        table.add(new RpcCommand("test", "slow", List.of(), true, "Waits until the test releases it.", request -> {
            slowEntered.countDown();
            try {
                if (!slowRelease.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("not released");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Json.NODES.textNode("slept");
        }));
        table.add(new RpcCommand("test", "boom", List.of(), true, "Throws an Error.", request -> {
            throw new AssertionError("handler blew up");
        }));
        self[0] = new JsonRpcDispatcher(table, null);
        return self[0];
    }

    private RpcHttpServer start(RpcHttpConfig config, RpcAuth auth, RpcHttpServer.RequestHandler handler) throws IOException {
        RpcHttpServer s = new RpcHttpServer(config, auth, handler, log::add);
        servers.add(s);
        s.start();
        server = s;
        port = s.boundAddresses().get(0).getPort();
        return s;
    }

    private RpcHttpServer startDefault() throws IOException {
        return start(loopbackConfig(), defaultAuth(), dispatcher(() -> {})::handle);
    }

    private URI uri(String path) {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return URI.create("http://" + h + ":" + port + path);
    }

    private HttpResponse<String> post(String path, String body, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (authorization != null) request.header("Authorization", authorization);
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> call(String body) throws Exception {
        return post("/", body, GOOD_AUTH);
    }

    private CompletableFuture<HttpResponse<String>> callAsync(String body) {
        HttpRequest request = HttpRequest.newBuilder(uri("/")).timeout(Duration.ofSeconds(30))
                .header("Authorization", GOOD_AUTH).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return client.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    private static String v2(String method) {
        return "{\"jsonrpc\":\"2.0\",\"method\":\"" + method + "\",\"id\":1}";
    }

    private void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    // ---------------------------------------------------------------- raw HTTP

    /** A minimal HTTP/1.1 client on one socket, for what java.net.http hides. */
    private static final class Raw implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Raw(String host, int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress(host, port), 10_000);
            socket.setSoTimeout(20_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        void send(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        record Reply(int status, Map<String, String> headers, String body) {
            String header(String name) {
                return headers.get(name.toLowerCase(Locale.ROOT));
            }
        }

        Reply read() throws IOException {
            String statusLine = line();
            assertNotNull(statusLine, "connection closed before a reply");
            int status = Integer.parseInt(statusLine.split(" ")[1]);
            Map<String, String> headers = new LinkedHashMap<>();
            for (String l = line(); l != null && !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            byte[] body;
            String length = headers.get("content-length");
            if (length != null) {
                body = in.readNBytes(Integer.parseInt(length));
            } else if (status == 204 || status == 304) {
                body = new byte[0];
            } else {
                body = in.readAllBytes();
            }
            return new Reply(status, headers, new String(body, StandardCharsets.UTF_8));
        }

        /** True once the server has closed the connection (end of stream). */
        boolean closedByServer() throws IOException {
            try {
                return in.read() < 0;
            } catch (IOException e) {
                return true;
            }
        }

        private String line() throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                if (c == '\n') break;
                bytes.write(c);
            }
            if (c < 0 && bytes.size() == 0) return null;
            String s = bytes.toString(StandardCharsets.ISO_8859_1);
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static String postRequest(String path, String body, String... extraHeaders) {
        StringBuilder request = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: localhost\r\n");
        for (String header : extraHeaders) request.append(header).append("\r\n");
        request.append("Content-Length: ").append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n\r\n");
        return request + body;
    }

    // ---------------------------------------------------------------- replies and keep-alive

    @Test
    void jsonRepliesKeepTheConnectionAlive() throws Exception {
        startDefault();
        try (Raw raw = new Raw(host, port)) {
            raw.send(postRequest("/", "{\"method\":\"echo\",\"params\":[\"a\"],\"id\":1}", "Authorization: " + GOOD_AUTH));
            Raw.Reply first = raw.read();
            assertEquals(200, first.status());
            assertEquals("application/json", first.header("Content-Type"));
            assertEquals("{\"result\":[\"a\"],\"error\":null,\"id\":1}\n", first.body());
            assertNull(first.header("Connection"));
            // Same socket, second request.
            raw.send(postRequest("/", v2("uptime"), "Authorization: " + GOOD_AUTH, "Content-Type: text/plain"));
            Raw.Reply second = raw.read();
            assertEquals(200, second.status());
            assertTrue(second.body().startsWith("{\"jsonrpc\":\"2.0\",\"result\":"), second.body());
            assertTrue(second.body().endsWith("\n"));
        }
    }

    @Test
    void requestContentTypeIsNeverChecked() throws Exception {
        startDefault();
        for (String type : List.of("text/plain", "application/x-www-form-urlencoded", "image/png")) {
            HttpRequest request = HttpRequest.newBuilder(uri("/")).header("Authorization", GOOD_AUTH)
                    .header("Content-Type", type).POST(HttpRequest.BodyPublishers.ofString(v2("echo"))).build();
            HttpResponse<String> reply = client.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, reply.statusCode(), type);
            assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[],\"id\":1}\n", reply.body());
        }
    }

    @Test
    void dispatcherStatusesAndNoContentPassThrough() throws Exception {
        startDefault();
        HttpResponse<String> notFound = call("{\"method\":\"nosuch\",\"id\":1}");
        assertEquals(404, notFound.statusCode());
        assertEquals("application/json", notFound.headers().firstValue("Content-Type").orElse(null));
        assertTrue(notFound.body().contains("Method not found"));
        HttpResponse<String> parse = call("{");
        assertEquals(500, parse.statusCode());
        assertTrue(parse.body().contains("-32700"));
        HttpResponse<String> notification = call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}");
        assertEquals(204, notification.statusCode());
        assertEquals("", notification.body());
        assertTrue(notification.headers().firstValue("Content-Type").isEmpty());
    }

    @Test
    void invalidUtf8BodyIsAParseError() throws Exception {
        startDefault();
        HttpRequest request = HttpRequest.newBuilder(uri("/")).header("Authorization", GOOD_AUTH)
                .POST(HttpRequest.BodyPublishers.ofByteArray(
                        "{\"method\":\"echo\",\"params\":[\"\u00e9\u20ac\"]}".getBytes(StandardCharsets.UTF_8)))
                .build();
        HttpResponse<String> good = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, good.statusCode());
        assertEquals("{\"result\":[\"\u00e9\u20ac\"],\"error\":null}\n", good.body());
        byte[] bad = "{\"method\":\"echo\",\"params\":[\"xx\"]}".getBytes(StandardCharsets.US_ASCII);
        bad[bad.length - 5] = (byte) 0xc3; // a lead byte without its continuation
        HttpResponse<String> reply = client.send(HttpRequest.newBuilder(uri("/")).header("Authorization", GOOD_AUTH)
                .POST(HttpRequest.BodyPublishers.ofByteArray(bad)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(500, reply.statusCode());
        assertEquals("{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}\n", reply.body());
    }

    @Test
    void walletPathsReachTheHandlerAsSentWithTheAuthenticatedUser() throws Exception {
        AtomicReference<String> seen = new AtomicReference<>();
        start(loopbackConfig(), defaultAuth(), (body, uri, user) -> {
            seen.set(uri + " " + user + " " + body);
            return new JsonRpcDispatcher.Reply(200, "{}\n");
        });
        assertEquals(200, post("/wallet/my%2Fwallet%20one", "x", GOOD_AUTH).statusCode());
        assertEquals("/wallet/my%2Fwallet%20one alice x", seen.get());
        assertEquals(200, post("/wallet/", "y", GOOD_AUTH).statusCode());
        assertEquals("/wallet/ alice y", seen.get());
        assertEquals(200, post("/", "z", GOOD_AUTH).statusCode());
        assertEquals("/ alice z", seen.get());
    }

    // ---------------------------------------------------------------- methods and paths

    @Test
    void onlyPostIsServed() throws Exception {
        startDefault();
        for (String method : List.of("GET", "PUT", "DELETE", "OPTIONS")) {
            HttpRequest request = HttpRequest.newBuilder(uri("/")).header("Authorization", GOOD_AUTH)
                    .method(method, HttpRequest.BodyPublishers.noBody()).build();
            HttpResponse<String> reply = client.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(405, reply.statusCode(), method);
            assertEquals("JSONRPC server handles only POST requests", reply.body(), method);
        }
    }

    @Test
    void onlyRootAndWalletPathsExist() throws Exception {
        startDefault();
        for (String path : List.of("/foo", "/wallet", "/rest/chaininfo.json", "/?x=1", "//", "/walletx/a")) {
            HttpResponse<String> reply = post(path, v2("echo"), GOOD_AUTH);
            assertEquals(404, reply.statusCode(), path);
            assertEquals("", reply.body(), path);
        }
        // An unknown path is refused before the method is looked at, as Core does.
        HttpResponse<String> get = client.send(HttpRequest.newBuilder(uri("/foo")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, get.statusCode());
    }

    // ---------------------------------------------------------------- authentication

    @Test
    void missingAuthorizationIsRefusedAtOnce() throws Exception {
        startDefault();
        post("/", v2("echo"), null); // warm up
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> reply = post("/", v2("echo"), null);
            best = Math.min(best, System.nanoTime() - t0);
            assertEquals(401, reply.statusCode());
            assertEquals("Basic realm=\"jsonrpc\"", reply.headers().firstValue("WWW-Authenticate").orElse(null));
            assertEquals("", reply.body());
        }
        assertTrue(best < TimeUnit.MILLISECONDS.toNanos(100), "took " + best / 1_000_000 + " ms");
        assertTrue(log.stream().noneMatch(l -> l.contains("incorrect password")), log.toString());
    }

    @Test
    void wrongCredentialsArePausedAndLogged() throws Exception {
        startDefault();
        call(v2("echo")); // warm up
        try (Raw raw = new Raw(host, port)) {
            int localPort = raw.socket.getLocalPort();
            long t0 = System.nanoTime();
            raw.send(postRequest("/", v2("echo"), "Authorization: " + basic(USER + ":wrong")));
            Raw.Reply reply = raw.read();
            long elapsed = System.nanoTime() - t0;
            assertEquals(401, reply.status());
            assertEquals("Basic realm=\"jsonrpc\"", reply.header("WWW-Authenticate"));
            assertEquals("", reply.body());
            assertTrue(elapsed >= TimeUnit.MILLISECONDS.toNanos(240), "took " + elapsed / 1_000_000 + " ms");
            assertTrue(log.contains("ThreadRPCServer incorrect password attempt from 127.0.0.1:" + localPort), log.toString());
            // The connection stays usable.
            raw.send(postRequest("/", v2("echo"), "Authorization: " + GOOD_AUTH));
            assertEquals(200, raw.read().status());
        }
    }

    @Test
    void onlyWellFormedBasicCredentialsAreAccepted() throws Exception {
        startDefault();
        List<String> refused = List.of(
                "Bearer " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)),
                "basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)),
                "Basic !!!not-base64!!!",
                basic(USER + PASSWORD),
                basic(USER + ":" + PASSWORD + "x"),
                basic(":" + PASSWORD),
                "Basic");
        for (String authorization : refused) {
            HttpResponse<String> reply = post("/", v2("echo"), authorization);
            assertEquals(401, reply.statusCode(), authorization);
            assertEquals("Basic realm=\"jsonrpc\"", reply.headers().firstValue("WWW-Authenticate").orElse(null));
        }
        assertEquals(200, post("/", v2("echo"), GOOD_AUTH).statusCode());
        assertEquals(200, post("/", v2("echo"), GOOD_AUTH + "  ").statusCode());
    }

    @Test
    void credentialsDifferingOnlyInCaseAreDifferentOnOneConnection() throws Exception {
        startDefault();
        String good = GOOD_AUTH.substring("Basic ".length());
        String swapped = good.chars().map(c -> Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c))
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        try (Raw raw = new Raw(host, port)) {
            raw.send(postRequest("/", v2("echo"), "Authorization: basic " + good));
            assertEquals(401, raw.read().status());
            raw.send(postRequest("/", v2("echo"), "Authorization: Basic " + good));
            assertEquals(200, raw.read().status());
            raw.send(postRequest("/", v2("echo"), "Authorization: Basic " + swapped));
            assertEquals(401, raw.read().status());
            raw.send(postRequest("/", v2("echo"), "Authorization: Basic " + good));
            assertEquals(200, raw.read().status());
        }
    }

    @Test
    void bareLineFeedsAreAccepted() throws Exception {
        startDefault();
        try (Raw raw = new Raw(host, port)) {
            raw.send(postRequest("/", v2("echo"), "Authorization: " + GOOD_AUTH).replace("\r\n", "\n"));
            Raw.Reply reply = raw.read();
            assertEquals(200, reply.status());
            assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[],\"id\":1}\n", reply.body());
        }
    }

    @Test
    void rpcauthEntriesUseHmacSha256OfThePasswordKeyedWithTheSalt() throws Exception {
        // Computed here independently of RpcAuth.
        String salt = "9f2c6a0b7d1e4c3a8b5f0e2d1c4b3a29";
        String password = "hunter2-\u00e9";
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(salt.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String hash = HexFormat.of().formatHex(mac.doFinal(password.getBytes(StandardCharsets.UTF_8)));
        assertEquals(hash, RpcAuth.hmacHex(salt, password.getBytes(StandardCharsets.UTF_8)));
        // A fixed vector (RFC 4231 test case 2: key "Jefe").
        assertEquals("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                RpcAuth.hmacHex("Jefe", "what do ya want for nothing?".getBytes(StandardCharsets.US_ASCII)));

        AtomicReference<String> user = new AtomicReference<>();
        RpcAuth auth = RpcAuth.builder()
                .rpcauth("carol:00$" + "0".repeat(64))
                .rpcauth("bob:" + salt + "$" + hash)
                .build();
        start(loopbackConfig(), auth, (body, uri, u) -> {
            user.set(u);
            return new JsonRpcDispatcher.Reply(200, "{}\n");
        });
        assertEquals(200, post("/", "{}", basic("bob:" + password)).statusCode());
        assertEquals("bob", user.get());
        assertEquals(401, post("/", "{}", basic("bob:hunter2")).statusCode());
        assertEquals(401, post("/", "{}", basic("carol:" + password)).statusCode());
        assertEquals(401, post("/", "{}", basic("dave:" + password)).statusCode());

        for (String bad : List.of("bob", "bob:salt", "bob:a$b$c", "a:b:c$d", "bob$salt:hash", "")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RpcAuth.builder().rpcauth(bad));
            assertEquals("Invalid -rpcauth argument.", e.getMessage(), bad);
        }
    }

    @Test
    void cookieFileIsWrittenAtomicallyOwnerOnlyAndDeletedAtStop() throws Exception {
        Path path = dir.resolve(".cookie");
        Files.writeString(dir.resolve(".cookie.tmp"), "stale");
        RpcCookie cookie = RpcCookie.generate(path, RpcCookie.Perms.OWNER, log::add);
        String content = Files.readString(path, StandardCharsets.US_ASCII);
        assertTrue(content.matches("__cookie__:[0-9a-f]{64}"), content);
        assertEquals("__cookie__:" + cookie.password(), content);
        assertFalse(Files.exists(dir.resolve(".cookie.tmp")));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
        assertTrue(log.contains("Generated RPC authentication cookie " + path), log.toString());

        RpcCookie other = RpcCookie.generate(dir.resolve("other"), RpcCookie.Perms.OWNER, null);
        assertFalse(other.password().equals(cookie.password()));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                RpcCookie.generate(dir.resolve("g"), RpcCookie.Perms.parse("group"), null).path())));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                RpcCookie.generate(dir.resolve("a"), RpcCookie.Perms.parse("all"), null).path())));
        assertThrows(IllegalArgumentException.class, () -> RpcCookie.Perms.parse("world"));

        // A cookie only read is never deleted by its reader.
        RpcCookie read = RpcCookie.read(path);
        assertEquals(cookie.password(), read.password());
        read.delete();
        assertTrue(Files.exists(path));

        AtomicReference<String> user = new AtomicReference<>();
        RpcHttpServer s = start(loopbackConfig(), RpcAuth.builder().cookie(cookie).build(), (body, uri, u) -> {
            user.set(u);
            return new JsonRpcDispatcher.Reply(200, "{}\n");
        });
        assertEquals(200, post("/", "{}", basic(content)).statusCode());
        assertEquals("__cookie__", user.get());
        assertEquals(401, post("/", "{}", basic("__cookie__:" + "0".repeat(64))).statusCode());
        s.stop();
        assertFalse(Files.exists(path), "the cookie this process wrote is deleted at stop");
    }

    // ---------------------------------------------------------------- failures and limits

    @Test
    void handlerFailureIsA500WithTheErrorText() throws Exception {
        startDefault();
        HttpResponse<String> reply = call(v2("boom"));
        assertEquals(500, reply.statusCode());
        assertEquals("handler blew up", reply.body());
        assertTrue(reply.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        // The worker survives.
        assertEquals(200, call(v2("echo")).statusCode());
    }

    @Test
    void fullWorkQueueAnswers503() throws Exception {
        start(loopbackConfig().withThreads(1).withWorkQueue(1), defaultAuth(), dispatcher(() -> {})::handle);
        CompletableFuture<HttpResponse<String>> running = callAsync(v2("slow"));
        assertTrue(slowEntered.await(10, TimeUnit.SECONDS));
        CompletableFuture<HttpResponse<String>> queued = callAsync(v2("echo"));
        waitFor(() -> server.pendingRequests() == 2, "the second request to be queued");
        HttpResponse<String> refused = call(v2("echo"));
        assertEquals(503, refused.statusCode());
        assertEquals("Work queue depth exceeded", refused.body());
        assertTrue(log.contains("WARNING: request rejected because http work queue depth exceeded, it can be increased with the -rpcworkqueue= setting"), log.toString());
        slowRelease.countDown();
        assertEquals(200, running.get(10, TimeUnit.SECONDS).statusCode());
        assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"slept\",\"id\":1}\n", running.get().body());
        assertEquals(200, queued.get(10, TimeUnit.SECONDS).statusCode());
        waitFor(() -> server.pendingRequests() == 0, "the queue to drain");
        assertEquals(200, call(v2("echo")).statusCode());
    }

    @Test
    void bodyLargerThan32MiBIs413() throws Exception {
        startDefault();
        // Declared length over the limit: refused before any of it is read.
        try (Raw raw = new Raw(host, port)) {
            raw.send("POST / HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + GOOD_AUTH
                    + "\r\nContent-Length: " + (LIMIT + 1) + "\r\n\r\n{\"method\":");
            Raw.Reply reply = raw.read();
            assertEquals(413, reply.status());
            assertEquals("close", reply.header("Connection"));
        }
        // Exactly the limit is served.
        String head = "{\"method\":\"echo\",\"params\":[\"";
        String tail = "\"],\"id\":1}";
        StringBuilder body = new StringBuilder(LIMIT);
        body.append(head).repeat('x', LIMIT - head.length() - tail.length()).append(tail);
        assertEquals(LIMIT, body.length());
        HttpResponse<String> ok = call(body.toString());
        assertEquals(200, ok.statusCode());
        assertEquals(LIMIT - head.length() - tail.length() + 36, ok.body().length());
    }

    @Test
    void chunkedBodiesAreCountedToo() throws Exception {
        startDefault();
        try (Raw raw = new Raw(host, port)) {
            String json = v2("echo");
            raw.send("POST / HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + GOOD_AUTH
                    + "\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(5) + "\r\n" + json.substring(0, 5) + "\r\n"
                    + Integer.toHexString(json.length() - 5) + "\r\n" + json.substring(5) + "\r\n0\r\n\r\n");
            Raw.Reply reply = raw.read();
            assertEquals(200, reply.status());
            assertEquals("{\"jsonrpc\":\"2.0\",\"result\":[],\"id\":1}\n", reply.body());
        }
        try (Raw raw = new Raw(host, port)) {
            raw.send("POST / HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + GOOD_AUTH
                    + "\r\nTransfer-Encoding: chunked\r\n\r\n");
            byte[] block = new byte[1 << 20];
            java.util.Arrays.fill(block, (byte) ' ');
            String size = Integer.toHexString(block.length) + "\r\n";
            for (int i = 0; i < LIMIT / block.length; i++) {
                raw.out.write(size.getBytes(StandardCharsets.US_ASCII));
                raw.out.write(block);
                raw.out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            // One byte more than the limit, and no final chunk: the server must stop reading and answer.
            raw.send("1\r\n \r\n");
            Raw.Reply reply = raw.read();
            assertEquals(413, reply.status());
            assertTrue(raw.closedByServer());
        }
    }

    @Test
    void headersLargerThan8192BytesAre400() throws Exception {
        startDefault();
        for (int size : List.of(9 * 1024, 40 * 1024)) {
            try (Raw raw = new Raw(host, port)) {
                raw.send(postRequest("/", v2("echo"), "Authorization: " + GOOD_AUTH, "X-Filler: " + "f".repeat(size)));
                Raw.Reply reply = raw.read();
                assertEquals(400, reply.status(), "header of " + size);
            }
        }
        // Many headers adding up past the limit count as well.
        try (Raw raw = new Raw(host, port)) {
            String[] headers = new String[30];
            headers[0] = "Authorization: " + GOOD_AUTH;
            for (int i = 1; i < headers.length; i++) headers[i] = "X-Filler-" + i + ": " + "f".repeat(300);
            raw.send(postRequest("/", v2("echo"), headers));
            assertEquals(400, raw.read().status());
        }
        // Just under the limit is fine.
        try (Raw raw = new Raw(host, port)) {
            raw.send(postRequest("/", v2("echo"), "Authorization: " + GOOD_AUTH, "X-Filler: " + "f".repeat(7 * 1024)));
            assertEquals(200, raw.read().status());
        }
    }

    // ---------------------------------------------------------------- allow list

    @Test
    void allowListParsesSingleAddressesNetmasksAndCidr() {
        RpcAllowList list = RpcAllowList.of(List.of("10.0.0.0/255.0.0.0", "192.168.1.0/24", "203.0.113.7",
                "[2001:db8::]/32", "fd00::1"));
        assertTrue(list.allows(ip("10.200.3.4")));
        assertFalse(list.allows(ip("11.0.0.1")));
        assertTrue(list.allows(ip("192.168.1.255")));
        assertFalse(list.allows(ip("192.168.2.1")));
        assertTrue(list.allows(ip("203.0.113.7")));
        assertFalse(list.allows(ip("203.0.113.8")));
        assertTrue(list.allows(ip("2001:db8:1::5")));
        assertFalse(list.allows(ip("2001:db9::5")));
        assertTrue(list.allows(ip("fd00::1")));
        assertFalse(list.allows(ip("fd00::2")));
        // Loopback is always allowed, IPv4-mapped addresses count as IPv4.
        assertTrue(list.allows(ip("127.0.0.1")));
        assertTrue(list.allows(ip("127.255.0.9")));
        assertTrue(list.allows(ip("::1")));
        assertTrue(list.allows(ip("::ffff:10.1.1.1")));
        RpcAllowList none = RpcAllowList.of(List.of());
        assertFalse(none.allows(ip("192.0.2.1")));
        assertFalse(none.allows(ip("::2")));
        assertTrue(RpcAllowList.of(List.of("0.0.0.0/0")).allows(ip("198.51.100.1")));
        assertFalse(RpcAllowList.of(List.of("0.0.0.0/0")).allows(ip("2001:db8::1")));
        assertTrue(RpcAllowList.of(List.of("::/0")).allows(ip("2001:db8::1")));
        assertEquals("10.0.0.0/8", RpcAllowList.parse("10.1.2.3/255.0.0.0").toString());

        for (String bad : List.of("", "localhost", "10.0.0.0/255.0.255.0", "1.2.3.4/33", "1.2.3.4/", "::1/129",
                "1.2.3.4/ffff::", "1.2.3.4/-1", "300.1.1.1", "1.2.3.4/24/8", "*")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RpcAllowList.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("Invalid -rpcallowip subnet specification: " + bad), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new RpcHttpServer(
                loopbackConfig().withAllowIps(List.of("10.0.0.0/33")), defaultAuth(), (b, u, us) -> null, log::add));
    }

    private static InetAddress ip(String literal) {
        return InetAddress.ofLiteral(literal);
    }

    /** A local address outside the loopback networks, if this machine has one. */
    private static InetAddress nonLoopbackAddress() throws IOException {
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nif.isUp() || nif.isLoopback()) continue;
            for (InetAddress address : Collections.list(nif.getInetAddresses())) {
                if (address instanceof Inet4Address && !address.isLoopbackAddress() && !address.isLinkLocalAddress()) return address;
            }
        }
        return null;
    }

    @Test
    void clientsOutsideTheAllowListGet403() throws Exception {
        InetAddress local = nonLoopbackAddress();
        assumeTrue(local != null, "no non-loopback IPv4 address to connect from");
        host = local.getHostAddress();
        RpcHttpConfig config = loopbackConfig().withEndpoints(List.of(new RpcHttpConfig.Endpoint(host, 0)));
        start(config, defaultAuth(), dispatcher(() -> {})::handle);
        HttpResponse<String> reply = call(v2("echo"));
        assertEquals(403, reply.statusCode());
        assertEquals("", reply.body());
        server.stop();

        start(config.withAllowIps(List.of(host + "/32")), defaultAuth(), dispatcher(() -> {})::handle);
        assertEquals(200, call(v2("echo")).statusCode());
    }

    @Test
    void loopbackCanBeLeftOutOnlyByTheTestHook() throws Exception {
        RpcHttpServer s = new RpcHttpServer(loopbackConfig(), defaultAuth(), dispatcher(() -> {})::handle, log::add,
                RpcAllowList.exactly(List.of(RpcAllowList.parse("10.0.0.0/8"))));
        servers.add(s);
        s.start();
        server = s;
        port = s.boundAddresses().get(0).getPort();
        assertEquals(403, call(v2("echo")).statusCode());
    }

    // ---------------------------------------------------------------- binding

    @Test
    void bindFailuresAreSkippedUnlessNothingIsBound() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            int busy = taken.getLocalPort();
            RpcHttpConfig config = loopbackConfig().withEndpoints(List.of(
                    new RpcHttpConfig.Endpoint("127.0.0.1", busy), new RpcHttpConfig.Endpoint("127.0.0.1", 0)));
            RpcHttpServer s = start(config, defaultAuth(), dispatcher(() -> {})::handle);
            assertEquals(1, s.boundAddresses().size());
            assertTrue(log.contains("Binding RPC on address 127.0.0.1 port " + busy + " failed."), log.toString());
            assertEquals(200, call(v2("echo")).statusCode());

            RpcCookie cookie = RpcCookie.generate(dir.resolve(".cookie"), RpcCookie.Perms.OWNER, null);
            RpcHttpServer none = new RpcHttpServer(loopbackConfig().withEndpoints(
                    List.of(new RpcHttpConfig.Endpoint("127.0.0.1", busy))), RpcAuth.builder().cookie(cookie).build(),
                    (b, u, us) -> null, log::add);
            servers.add(none);
            BindException e = assertThrows(BindException.class, none::start);
            assertEquals("Unable to bind any endpoint for RPC server", e.getMessage());
            none.stop();
            assertFalse(Files.exists(cookie.path()), "stop() after a failed start still removes the cookie");
        }
    }

    @Test
    void defaultEndpointsAreBothLoopbacks() throws Exception {
        int free;
        try (ServerSocket probe = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            free = probe.getLocalPort();
        }
        RpcHttpServer s = start(RpcHttpConfig.defaults(free), defaultAuth(), dispatcher(() -> {})::handle);
        List<String> bound = s.boundAddresses().stream().map(a -> a.getAddress().getHostAddress() + " " + a.getPort()).toList();
        assertTrue(bound.contains("127.0.0.1 " + free), bound.toString());
        boolean ipv6 = true;
        try (ServerSocket v6 = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            v6.getLocalPort();
        } catch (IOException e) {
            ipv6 = false;
        }
        if (ipv6) {
            assertTrue(bound.contains("0:0:0:0:0:0:0:1 " + free), bound.toString());
            host = "::1";
            assertEquals(200, call(v2("echo")).statusCode());
        }
    }

    @Test
    void endpointAndBindOptionParsing() {
        assertEquals(new RpcHttpConfig.Endpoint("1.2.3.4", 8332), RpcHttpConfig.Endpoint.parse("1.2.3.4", 8332));
        assertEquals(new RpcHttpConfig.Endpoint("1.2.3.4", 9000), RpcHttpConfig.Endpoint.parse("1.2.3.4:9000", 8332));
        assertEquals(new RpcHttpConfig.Endpoint("::1", 8332), RpcHttpConfig.Endpoint.parse("::1", 8332));
        assertEquals(new RpcHttpConfig.Endpoint("::1", 8332), RpcHttpConfig.Endpoint.parse("[::1]", 8332));
        assertEquals(new RpcHttpConfig.Endpoint("::1", 9000), RpcHttpConfig.Endpoint.parse("[::1]:9000", 8332));
        assertEquals("[::1]:9000", RpcHttpConfig.Endpoint.parse("[::1]:9000", 1).toString());
        for (String bad : List.of("1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:x", "[::1]:")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RpcHttpConfig.Endpoint.parse(bad, 1));
            assertEquals("Invalid port specified in -rpcbind: '" + bad + "'", e.getMessage());
        }
        List<String> warnings = new ArrayList<>();
        assertEquals(RpcHttpConfig.loopback(18443), RpcHttpConfig.bindEndpoints(List.of("0.0.0.0"), List.of(), 18443, warnings::add));
        assertTrue(warnings.get(0).contains("-rpcbind was ignored"), warnings.toString());
        warnings.clear();
        assertEquals(List.of(new RpcHttpConfig.Endpoint("0.0.0.0", 18443), new RpcHttpConfig.Endpoint("10.0.0.1", 1)),
                RpcHttpConfig.bindEndpoints(List.of("0.0.0.0", "10.0.0.1:1"), List.of("10.0.0.0/8"), 18443, warnings::add));
        assertTrue(warnings.get(0).contains("not safe"), warnings.toString());
        assertEquals(16, RpcHttpConfig.defaults(1).threads());
        assertEquals(64, RpcHttpConfig.defaults(1).workQueue());
        assertEquals(1, RpcHttpConfig.defaults(1).withThreads(0).threads());
    }

    // ---------------------------------------------------------------- shutdown

    @Test
    void shutdownRejectsNewRequestsAndFinishesInFlightOnes() throws Exception {
        start(loopbackConfig(), defaultAuth(), dispatcher(() -> {})::handle);
        CompletableFuture<HttpResponse<String>> inFlight = callAsync(v2("slow"));
        assertTrue(slowEntered.await(10, TimeUnit.SECONDS));
        RpcHttpServer s = server;
        Thread stopper = new Thread(s::stop, "test-stopper");
        stopper.start();
        waitFor(s::isStopping, "the server to start stopping");

        HttpResponse<String> refused = call(v2("echo"));
        assertEquals(503, refused.statusCode());
        assertEquals("Request rejected during server shutdown", refused.body());
        Thread.sleep(100);
        assertTrue(stopper.isAlive(), "stop() waits for the request in flight");
        assertFalse(inFlight.isDone());

        slowRelease.countDown();
        HttpResponse<String> finished = inFlight.get(10, TimeUnit.SECONDS);
        assertEquals(200, finished.statusCode());
        assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"slept\",\"id\":1}\n", finished.body());
        stopper.join(10_000);
        assertFalse(stopper.isAlive());
        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
    }

    @Test
    void stopCalledFromAMethodDeliversItsReplyFirst() throws Exception {
        RpcHttpServer[] self = new RpcHttpServer[1];
        start(loopbackConfig(), defaultAuth(), dispatcher(() -> self[0].stop())::handle);
        self[0] = server;
        HttpResponse<String> reply = call(v2("stop"));
        assertEquals(200, reply.statusCode());
        assertEquals("{\"jsonrpc\":\"2.0\",\"result\":\"Bitcoin node stopping\",\"id\":1}\n", reply.body());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        boolean refused = false;
        while (!refused && System.nanoTime() < deadline) {
            try {
                new Socket("127.0.0.1", port).close();
                Thread.sleep(10);
            } catch (ConnectException e) {
                refused = true;
            }
        }
        assertTrue(refused, "the server closed its listener");
    }

    @Test
    void shutdownWaitIsBounded() throws Exception {
        start(loopbackConfig().withShutdownTimeout(Duration.ofMillis(300)), defaultAuth(), dispatcher(() -> {})::handle);
        CompletableFuture<HttpResponse<String>> stuck = callAsync(v2("slow"));
        assertTrue(slowEntered.await(10, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        CompletableFuture.runAsync(server::stop).get(10, TimeUnit.SECONDS);
        long took = System.nanoTime() - t0;
        assertTrue(took >= TimeUnit.MILLISECONDS.toNanos(250) && took < TimeUnit.SECONDS.toNanos(8), took / 1_000_000 + " ms");
        assertTrue(log.stream().anyMatch(l -> l.contains("unfinished")), log.toString());
        slowRelease.countDown();
        assertThrows(Exception.class, () -> stuck.get(10, TimeUnit.SECONDS));
    }
}
