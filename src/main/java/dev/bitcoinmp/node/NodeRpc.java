package dev.bitcoinmp.node;

import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.rpc.JsonRpcDispatcher;

/**
 * Core's {@code RpcImpl}: a JSON-RPC request text in, the reply text out, through the same dispatcher as the
 * HTTP server. {@code user} is taken as the authenticated user (the socket's owner-only permissions are the
 * authentication); {@code uri} is what the HTTP path would be: {@code /} (or empty) or {@code /wallet/<name>}.
 * The reply is the JSON text without HTTP's trailing newline; a request that gets no reply (only
 * notifications) gives {@code null}, as Core's UniValue result would.
 */
final class NodeRpc implements Rpc {

    private final Calls calls;

    NodeRpc(Calls calls) {
        this.calls = calls;
    }

    @Override
    public String executeRpc(String request, String uri, String user) {
        if (request == null) throw new IllegalArgumentException("executeRpc: the request is missing");
        String path = uri == null || uri.isEmpty() ? "/" : uri;
        if (!path.equals("/") && !path.startsWith("/wallet/")) {
            throw new IllegalArgumentException("executeRpc: unsupported uri '" + uri + "' (use / or /wallet/<name>)");
        }
        return calls.run(request, path, user == null ? "" : user);
    }

    /** Rpc has no destroy method: closing the client's proxy releases this object; nothing to free. */
    @Override
    public void close() {}

    /** The dispatcher, and a count of requests in progress so that shutdown can let them finish. */
    static final class Calls {
        private final JsonRpcDispatcher dispatcher;
        private int running;

        Calls(JsonRpcDispatcher dispatcher) {
            this.dispatcher = dispatcher;
        }

        String run(String request, String uri, String user) {
            synchronized (this) {
                running++;
            }
            try {
                JsonRpcDispatcher.Reply reply = dispatcher.handle(request, uri, user);
                String body = reply.body();
                if (body == null) return "null";
                return body.endsWith("\n") ? body.substring(0, body.length() - 1) : body;
            } finally {
                synchronized (this) {
                    if (--running == 0) notifyAll();
                }
            }
        }

        synchronized boolean awaitIdle(long millis) throws InterruptedException {
            long deadline = System.nanoTime() + millis * 1_000_000;
            while (running > 0) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) return false;
                wait(left);
            }
            return true;
        }
    }
}
