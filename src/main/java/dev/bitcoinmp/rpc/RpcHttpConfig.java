package dev.bitcoinmp.rpc;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The RPC HTTP server's options (RPC-FACTS section 1).
 *
 * @param endpoints where to listen; each is tried, failures are logged and skipped
 * @param allowIps {@code -rpcallowip} entries, added to the always-allowed loopback networks
 * @param threads {@code -rpcthreads}: requests run at once (at least 1)
 * @param workQueue {@code -rpcworkqueue}: requests waiting beyond the running ones (at least 1)
 * @param maxHeaderBytes request line and header fields, each counted on its own (8192)
 * @param maxBodyBytes request body, chunked bodies included (33,554,432)
 * @param idleTimeout {@code -rpcservertimeout}: an idle connection is closed after this (30 s)
 * @param shutdownTimeout how long {@link RpcHttpServer#stop()} waits for in-flight requests
 */
public record RpcHttpConfig(List<Endpoint> endpoints, List<String> allowIps, int threads, int workQueue,
        int maxHeaderBytes, long maxBodyBytes, Duration idleTimeout, Duration shutdownTimeout) {

    public static final int DEFAULT_THREADS = 16;
    public static final int DEFAULT_WORK_QUEUE = 64;
    public static final int DEFAULT_MAX_HEADER_BYTES = 8192;
    public static final long DEFAULT_MAX_BODY_BYTES = 32L * 1024 * 1024;
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /** A host (name or address; IPv6 without brackets) and port to listen on. */
    public record Endpoint(String host, int port) {
        public Endpoint {
            if (host == null || host.isEmpty()) throw new IllegalArgumentException("empty host");
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
        }

        /**
         * {@code host}, {@code host:port}, {@code [v6]}, {@code [v6]:port} or a bare IPv6 address, as
         * {@code -rpcbind} takes them; {@code defaultPort} when none is given.
         *
         * @throws IllegalArgumentException {@code Invalid port specified in -rpcbind: '<value>'}
         */
        public static Endpoint parse(String value, int defaultPort) {
            String host = value;
            int port = defaultPort;
            int colon = value.lastIndexOf(':');
            boolean bracketed = value.startsWith("[");
            // A colon separates the port when it is the only one, or follows a closing bracket.
            if (colon >= 0 && (value.indexOf(':') == colon || (bracketed && colon > 0 && value.charAt(colon - 1) == ']'))) {
                String digits = value.substring(colon + 1);
                if (digits.isEmpty() || digits.length() > 5 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')
                        || Integer.parseInt(digits) == 0 || Integer.parseInt(digits) > 65535) {
                    throw new IllegalArgumentException("Invalid port specified in -rpcbind: '" + value + "'");
                }
                port = Integer.parseInt(digits);
                host = value.substring(0, colon);
            }
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
            if (host.isEmpty()) throw new IllegalArgumentException("Invalid -rpcbind address: '" + value + "'");
            return new Endpoint(host, port);
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    public RpcHttpConfig {
        endpoints = List.copyOf(endpoints);
        allowIps = List.copyOf(allowIps);
        if (endpoints.isEmpty()) throw new IllegalArgumentException("no RPC endpoints to bind");
        threads = Math.max(1, threads);
        workQueue = Math.max(1, workQueue);
        if (maxHeaderBytes < 1 || maxBodyBytes < 0) throw new IllegalArgumentException("bad RPC size limits");
        if (maxBodyBytes > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("body limit too large");
    }

    /** Loopback ({@code 127.0.0.1} and {@code ::1}) on {@code port}, and Core's defaults for the rest. */
    public static RpcHttpConfig defaults(int port) {
        return new RpcHttpConfig(loopback(port), List.of(), DEFAULT_THREADS, DEFAULT_WORK_QUEUE,
                DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT);
    }

    public static List<Endpoint> loopback(int port) {
        return List.of(new Endpoint("127.0.0.1", port), new Endpoint("::1", port));
    }

    /**
     * Where to listen given {@code -rpcbind} and {@code -rpcallowip} as Core decides it: the bind addresses are
     * honoured only when allow entries are given too, otherwise loopback, with a warning for an ignored
     * {@code -rpcbind} or an {@code -rpcallowip} without one; binding everything ({@code 0.0.0.0}, {@code ::})
     * is warned about.
     */
    public static List<Endpoint> bindEndpoints(List<String> rpcbind, List<String> rpcallowip, int port, Consumer<String> log) {
        List<Endpoint> result = new ArrayList<>();
        if (rpcbind.isEmpty() || rpcallowip.isEmpty()) {
            result.addAll(loopback(port));
            if (!rpcallowip.isEmpty()) {
                log.accept("WARNING: option -rpcallowip was specified without -rpcbind; this doesn't usually make sense");
            }
            if (!rpcbind.isEmpty()) {
                log.accept("WARNING: option -rpcbind was ignored because -rpcallowip was not specified, "
                        + "refusing to allow everyone to connect");
            }
            return result;
        }
        for (String value : rpcbind) {
            Endpoint endpoint = Endpoint.parse(value, port);
            if (endpoint.host().equals("0.0.0.0") || endpoint.host().equals("::")) {
                log.accept("WARNING: the RPC server is not safe to expose to untrusted networks such as the public internet");
            }
            result.add(endpoint);
        }
        return result;
    }

    public RpcHttpConfig withEndpoints(List<Endpoint> endpoints) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }

    public RpcHttpConfig withAllowIps(List<String> allowIps) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }

    public RpcHttpConfig withThreads(int threads) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }

    public RpcHttpConfig withWorkQueue(int workQueue) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }

    public RpcHttpConfig withIdleTimeout(Duration idleTimeout) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }

    public RpcHttpConfig withShutdownTimeout(Duration shutdownTimeout) {
        return new RpcHttpConfig(endpoints, allowIps, threads, workQueue, maxHeaderBytes, maxBodyBytes, idleTimeout, shutdownTimeout);
    }
}
