package dev.bitcoinmp.rpc;

import java.io.IOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;

/**
 * The JSON-RPC HTTP server, behaving as Core's (RPC-FACTS sections 1 and 2), on Jetty 12 core handlers.
 *
 * <p>Jetty only parses HTTP and moves bytes; a request goes through these steps, in Core's order:
 * <ol>
 * <li>request line and header fields larger than {@code maxHeaderBytes} in total: 400 (Jetty's own, larger
 * limit answers 431, which is turned into 400 too);</li>
 * <li>body (read without blocking, chunked bodies counted as they arrive) larger than {@code maxBodyBytes}: 413,
 * connection closed;</li>
 * <li>server shutting down: 503 {@code Request rejected during server shutdown};</li>
 * <li>client outside the allow list: 403; path neither {@code /} nor {@code /wallet/...}: 404;</li>
 * <li>more than {@code threads + workQueue} requests admitted and not finished: 503 {@code Work queue depth
 * exceeded}, with a warning logged;</li>
 * <li>on one of {@code threads} worker threads: not POST: 405; no {@code Authorization}: 401; wrong credentials:
 * 250 ms pause, then 401; else the handler's reply ({@code application/json}, or 204 without a body); an
 * exception escaping the handler: 500 with its text.</li>
 * </ol>
 *
 * <p>{@link #stop()} first rejects new requests (503) while the admitted ones finish and their replies are
 * written (bounded by {@code shutdownTimeout}), then closes the listeners and connections and ends every thread
 * it started. A cookie given to the {@link RpcAuth} that this process wrote is deleted then.
 */
public final class RpcHttpServer {

    /** Turns a request body into a reply: {@link JsonRpcDispatcher#handle} in the node. */
    @FunctionalInterface
    public interface RequestHandler {
        JsonRpcDispatcher.Reply handle(String body, String uri, String user);
    }

    static final String WWW_AUTHENTICATE = "Basic realm=\"jsonrpc\"";
    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";
    static final long WRONG_PASSWORD_PAUSE_MILLIS = 250;

    private final RpcHttpConfig config;
    private final RpcAuth auth;
    private final RequestHandler handler;
    private final Consumer<String> log;
    private final RpcAllowList allowList;
    private final Semaphore permits;
    private final Set<Thread> workerThreads = ConcurrentHashMap.newKeySet();

    /** Guards {@link #inFlight} and {@link #rejecting}; notified when a request finishes. */
    private final Object lock = new Object();
    private int inFlight;
    private boolean rejecting;

    private final Object lifecycle = new Object();
    private boolean started;
    private boolean stopped;
    private Server server;
    private ThreadPoolExecutor workers;
    private List<ServerConnector> connectors = List.of();

    /**
     * @throws IllegalArgumentException for an invalid {@code -rpcallowip} entry
     */
    public RpcHttpServer(RpcHttpConfig config, RpcAuth auth, RequestHandler handler, Consumer<String> log) {
        this(config, auth, handler, log, RpcAllowList.of(config.allowIps()));
    }

    public RpcHttpServer(RpcHttpConfig config, RpcAuth auth, JsonRpcDispatcher dispatcher, Consumer<String> log) {
        this(config, auth, dispatcher::handle, log);
    }

    /** With an explicit allow list (tests: one without the always-allowed loopback networks). */
    RpcHttpServer(RpcHttpConfig config, RpcAuth auth, RequestHandler handler, Consumer<String> log, RpcAllowList allowList) {
        this.config = Objects.requireNonNull(config);
        this.auth = Objects.requireNonNull(auth);
        this.handler = Objects.requireNonNull(handler);
        this.log = log == null ? line -> {} : log;
        this.allowList = Objects.requireNonNull(allowList);
        this.permits = new Semaphore(config.threads() + config.workQueue());
    }

    public RpcHttpConfig config() {
        return config;
    }

    public RpcAllowList allowList() {
        return allowList;
    }

    /**
     * Binds every endpoint it can (a failure is logged and skipped) and starts serving.
     *
     * @throws BindException {@code Unable to bind any endpoint for RPC server} when none could be bound
     * @throws IOException when Jetty fails to start
     */
    public void start() throws IOException {
        synchronized (lifecycle) {
            if (started || stopped) throw new IllegalStateException("RPC server already started or stopped");
            started = true;
            QueuedThreadPool pool = new QueuedThreadPool(16 + 2 * config.endpoints().size(), 2, 60_000);
            pool.setName("rpc-http");
            pool.setDaemon(true);
            ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler("rpc-http-scheduler", true);
            Server jetty = new Server(pool, scheduler, null);
            jetty.setStopAtShutdown(false);
            jetty.setErrorHandler(new BareErrorHandler());

            HttpConfiguration http = new HttpConfiguration();
            // Jetty's own limit is a backstop (its 431 becomes 400); the exact count is made per request.
            http.setRequestHeaderSize(2 * config.maxHeaderBytes() + 1024);
            // Jetty may reuse a header line seen earlier on the connection; its match must respect case, since
            // base64 credentials differing only in case are different credentials.
            http.setHeaderCacheCaseSensitive(true);
            http.setSendServerVersion(false);
            http.setSendXPoweredBy(false);
            // Wallet names arrive percent-encoded (a '/' as %2F): the path is passed on as sent, never resolved.
            http.setUriCompliance(UriCompliance.UNSAFE);
            // Lines ended by a bare LF are accepted, as libevent does.
            http.setHttpCompliance(HttpCompliance.RFC9110.with("RPC", HttpCompliance.Violation.LF_HEADER_TERMINATION,
                    HttpCompliance.Violation.LF_CHUNK_TERMINATION));
            HttpConnectionFactory factory = new HttpConnectionFactory(http);

            List<ServerConnector> bound = new ArrayList<>();
            for (RpcHttpConfig.Endpoint endpoint : config.endpoints()) {
                log.accept("Binding RPC on address " + endpoint.host() + " port " + endpoint.port());
                ServerConnector connector = new ServerConnector(jetty, 1, 1, factory);
                connector.setHost(endpoint.host());
                connector.setPort(endpoint.port());
                connector.setIdleTimeout(config.idleTimeout().toMillis());
                try {
                    connector.open();
                    jetty.addConnector(connector);
                    bound.add(connector);
                } catch (IOException | RuntimeException e) {
                    connector.close();
                    log.accept("Binding RPC on address " + endpoint.host() + " port " + endpoint.port() + " failed.");
                }
            }
            if (bound.isEmpty()) {
                stopped = true;
                throw new BindException("Unable to bind any endpoint for RPC server");
            }
            AtomicInteger number = new AtomicInteger();
            workers = new ThreadPoolExecutor(config.threads(), config.threads(), 0, TimeUnit.MILLISECONDS,
                    new LinkedBlockingQueue<>(), task -> {
                        Thread thread = new Thread(() -> {
                            workerThreads.add(Thread.currentThread());
                            try {
                                task.run();
                            } finally {
                                workerThreads.remove(Thread.currentThread());
                            }
                        }, "rpc-worker-" + number.incrementAndGet());
                        thread.setDaemon(true);
                        return thread;
                    });
            workers.prestartAllCoreThreads();
            jetty.setHandler(new RpcHandler());
            connectors = List.copyOf(bound);
            server = jetty;
            try {
                jetty.start();
            } catch (Exception e) {
                stopQuietly();
                stopped = true;
                throw new IOException("RPC server failed to start: " + e.getMessage(), e);
            }
        }
    }

    /** The addresses actually listened on (port 0 in an endpoint becomes the port chosen). */
    public List<InetSocketAddress> boundAddresses() {
        List<InetSocketAddress> list = new ArrayList<>();
        for (ServerConnector connector : connectors) {
            Object transport = connector.getTransport();
            if (transport instanceof java.nio.channels.ServerSocketChannel channel && channel.isOpen()) {
                try {
                    SocketAddress address = channel.getLocalAddress();
                    if (address instanceof InetSocketAddress inet) list.add(inet);
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        return list;
    }

    /** Requests admitted and not finished: running, queued for a worker, or having their reply written. */
    public int pendingRequests() {
        synchronized (lock) {
            return inFlight;
        }
    }

    /** Whether new requests are being refused because the server is stopping. */
    public boolean isStopping() {
        synchronized (lock) {
            return rejecting;
        }
    }

    /** From now on new requests get 503 {@code Request rejected during server shutdown}; admitted ones go on. */
    public void interrupt() {
        synchronized (lock) {
            rejecting = true;
        }
    }

    /**
     * Refuses new requests, waits (up to {@code shutdownTimeout}) for the admitted ones to finish and their
     * replies to be written, then closes everything and deletes a cookie this process wrote. Called from a
     * worker thread (a {@code stop} method run in-line), it only starts that and returns at once, since the
     * calling request itself has to finish first.
     */
    public void stop() {
        interrupt();
        if (workerThreads.contains(Thread.currentThread())) {
            Thread thread = new Thread(this::stopNow, "rpc-http-stop");
            thread.setDaemon(true);
            thread.start();
            return;
        }
        stopNow();
    }

    private void stopNow() {
        synchronized (lifecycle) {
            if (!stopped && server != null) {
                long deadline = System.nanoTime() + config.shutdownTimeout().toNanos();
                synchronized (lock) {
                    while (inFlight > 0) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) break;
                        try {
                            TimeUnit.NANOSECONDS.timedWait(lock, left);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            break;
                        }
                    }
                    if (inFlight > 0) log.accept("RPC server stopping with " + inFlight + " request(s) unfinished");
                }
                stopQuietly();
            }
            stopped = true;
        }
        // Also after a failed start: the node stops the server it tried to start, and the cookie must go.
        for (RpcCookie cookie : auth.cookies()) {
            try {
                cookie.delete();
            } catch (IOException e) {
                log.accept("Unable to remove RPC authentication cookie " + cookie.path() + ": " + e.getMessage());
            }
        }
    }

    private void stopQuietly() {
        for (ServerConnector connector : connectors) connector.close();
        try {
            server.stop();
        } catch (Exception e) {
            log.accept("RPC server: error stopping HTTP: " + e);
        }
        if (workers != null) {
            workers.shutdownNow();
            try {
                if (!workers.awaitTermination(5, TimeUnit.SECONDS)) log.accept("RPC worker threads did not exit in time");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** {@code 1.2.3.4:port} or {@code [v6]:port}, IPv6 in its shortest form. */
    static String peer(InetSocketAddress address) {
        if (address == null) return "unknown";
        InetAddress ip = RpcAllowList.unmapped(address.getAddress());
        if (ip instanceof Inet6Address) return "[" + shortIpv6(ip.getAddress()) + "]:" + address.getPort();
        return ip.getHostAddress() + ":" + address.getPort();
    }

    static String shortIpv6(byte[] b) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0) j++;
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append("::");
                i += bestLength - 1;
                continue;
            }
            if (out.length() > 0 && out.charAt(out.length() - 1) != ':') out.append(':');
            out.append(Integer.toHexString(groups[i]));
        }
        return out.toString();
    }

    /** Sleeps {@code millis} even if interrupted (the interrupt is kept for later). */
    static void pause(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        boolean interrupted = false;
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** Request line plus header fields ({@code name: value}), line ends not counted. */
    static long headerBytes(Request request) {
        String target = request.getHttpURI().getPathQuery();
        long total = request.getMethod().length() + 1 + (target == null ? 0 : target.length()) + 1
                + request.getConnectionMetaData().getProtocol().length();
        if (total > Integer.MAX_VALUE) return total;
        for (HttpField field : request.getHeaders()) {
            total += field.getName().length() + 2 + (field.getValue() == null ? 0 : field.getValue().length());
        }
        return total;
    }

    private static boolean knownPath(String target) {
        return "/".equals(target) || (target != null && target.startsWith("/wallet/"));
    }

    /** Jetty's own error replies (malformed requests, oversized headers) without a body; 431 and 414 become 400. */
    private static final class BareErrorHandler extends ErrorHandler {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            int status = response.getStatus();
            if (request.getAttribute(ERROR_STATUS) instanceof Integer code) status = code;
            if (status == 431 || status == 414) status = 400;
            if (status < 400) status = 500;
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
            response.write(true, ByteBuffer.allocate(0), callback);
            return true;
        }
    }

    private final class RpcHandler extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            Exchange exchange = new Exchange(request, response, callback);
            try {
                exchange.begin();
            } catch (Throwable t) {
                exchange.fail(t);
            }
            return true;
        }
    }

    /** One request: body collection, admission, the worker's part, and the reply. */
    private final class Exchange implements Runnable {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private byte[] body = new byte[0];
        private int size;
        private boolean admitted;
        private boolean permitHeld;
        private final AtomicBoolean replied = new AtomicBoolean();

        Exchange(Request request, Response response, Callback callback) {
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        void begin() {
            if (headerBytes(request) > config.maxHeaderBytes()) {
                send(400, null, null, true, false);
                return;
            }
            long length = request.getLength();
            if (length > config.maxBodyBytes()) {
                send(413, null, null, true, false);
                return;
            }
            body = new byte[(int) Math.max(0, Math.min(length, 1 << 16))];
            read();
        }

        /** Collects the body without blocking; called again by Jetty when more arrives. */
        private void read() {
            try {
                while (true) {
                    Content.Chunk chunk = request.read();
                    if (chunk == null) {
                        request.demand(this::read);
                        return;
                    }
                    if (Content.Chunk.isFailure(chunk)) {
                        // The connection failed or timed out while the body was arriving: nobody to answer.
                        if (replied.compareAndSet(false, true)) callback.failed(chunk.getFailure());
                        return;
                    }
                    ByteBuffer buffer = chunk.getByteBuffer();
                    int n = buffer.remaining();
                    if ((long) size + n > config.maxBodyBytes()) {
                        chunk.release();
                        send(413, null, null, true, false);
                        return;
                    }
                    if (size + n > body.length) {
                        long grown = Math.max((long) size + n, Math.min((long) body.length * 2, config.maxBodyBytes()));
                        body = Arrays.copyOf(body, (int) Math.max(grown, 1024));
                    }
                    buffer.get(body, size, n);
                    size += n;
                    boolean last = chunk.isLast();
                    chunk.release();
                    if (last) {
                        admit();
                        return;
                    }
                }
            } catch (Throwable t) {
                fail(t);
            }
        }

        private void admit() {
            boolean refused;
            synchronized (lock) {
                refused = rejecting;
                if (!refused) {
                    inFlight++;
                    admitted = true;
                }
            }
            if (refused) {
                send(503, TEXT, "Request rejected during server shutdown", false, false);
                return;
            }
            InetSocketAddress remote = remote();
            if (remote == null || !allowList.allows(remote.getAddress())) {
                send(403, null, null, false, false);
                return;
            }
            if (!knownPath(request.getHttpURI().getPathQuery())) {
                send(404, null, null, false, false);
                return;
            }
            if (!permits.tryAcquire()) {
                log.accept("WARNING: request rejected because http work queue depth exceeded, "
                        + "it can be increased with the -rpcworkqueue= setting");
                send(503, TEXT, "Work queue depth exceeded", false, false);
                return;
            }
            permitHeld = true;
            try {
                workers.execute(this);
            } catch (RejectedExecutionException e) {
                releasePermit();
                send(503, TEXT, "Request rejected during server shutdown", false, false);
            }
        }

        /** The worker's part: method, authentication, then the handler. */
        @Override
        public void run() {
            try {
                if (!"POST".equals(request.getMethod())) {
                    send(405, TEXT, "JSONRPC server handles only POST requests", false, false);
                    return;
                }
                String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
                if (authorization == null) {
                    send(401, null, null, false, true);
                    return;
                }
                String user = auth.authenticate(authorization);
                if (user == null) {
                    log.accept("ThreadRPCServer incorrect password attempt from " + peer(remote()));
                    pause(WRONG_PASSWORD_PAUSE_MILLIS);
                    send(401, null, null, false, true);
                    return;
                }
                JsonRpcDispatcher.Reply reply = handler.handle(text(), request.getHttpURI().getPathQuery(), user);
                if (reply.body() == null) {
                    send(reply.status(), null, null, false, false);
                } else {
                    send(reply.status(), JSON, reply.body(), false, false);
                }
            } catch (Throwable t) {
                String message = t.getMessage() != null ? t.getMessage() : t.toString();
                send(500, TEXT, message, false, false);
            } finally {
                releasePermit();
            }
        }

        /** The body as UTF-8; invalid UTF-8 becomes an empty body, so the dispatcher answers Parse error as Core does. */
        private String text() {
            try {
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(body, 0, size))
                        .toString();
            } catch (CharacterCodingException e) {
                return "";
            } finally {
                body = null;
            }
        }

        private InetSocketAddress remote() {
            SocketAddress address = request.getConnectionMetaData().getRemoteSocketAddress();
            return address instanceof InetSocketAddress inet ? inet : null;
        }

        private void releasePermit() {
            if (permitHeld) {
                permitHeld = false;
                permits.release();
            }
        }

        void fail(Throwable t) {
            String message = t.getMessage() != null ? t.getMessage() : t.toString();
            send(500, TEXT, message, true, false);
        }

        private void send(int status, String contentType, String text, boolean close, boolean challenge) {
            if (!replied.compareAndSet(false, true)) return;
            byte[] content = text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
            try {
                response.setStatus(status);
                HttpFields.Mutable headers = response.getHeaders();
                if (contentType != null) headers.put(HttpHeader.CONTENT_TYPE, contentType);
                if (challenge) headers.put(HttpHeader.WWW_AUTHENTICATE, WWW_AUTHENTICATE);
                if (close) headers.put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
                if (status != 204 && status != 304) headers.put(HttpHeader.CONTENT_LENGTH, (long) content.length);
                response.write(true, ByteBuffer.wrap(content), new Callback() {
                    @Override
                    public void succeeded() {
                        try {
                            callback.succeeded();
                        } finally {
                            finished();
                        }
                    }

                    @Override
                    public void failed(Throwable x) {
                        try {
                            callback.failed(x);
                        } finally {
                            finished();
                        }
                    }
                });
            } catch (Throwable t) {
                try {
                    callback.failed(t);
                } finally {
                    finished();
                }
            }
        }

        private void finished() {
            synchronized (lock) {
                if (!admitted) return;
                admitted = false;
                inFlight--;
                lock.notifyAll();
            }
        }
    }
}
