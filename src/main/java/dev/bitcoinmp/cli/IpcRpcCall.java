package dev.bitcoinmp.cli;

import dev.bitcoinmp.capnp.ChannelStream;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.ipc.Protocol;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A JSON-RPC request over a node's unix socket, as Core's {@code bitcoin-cli -ipcconnect}: connect, {@code
 * Init.makeRpc()}, {@code Rpc.executeRpc(request, uri, user)}, disconnect.
 */
final class IpcRpcCall {

    /** Linux's sun_path holds 108 bytes, the terminating NUL included. */
    static final int MAX_PATH_BYTES = 107;

    /** Where {@code -ipcconnect} points: the socket path, and whether a missing or refusing socket means "use HTTP". */
    record Target(Path socket, boolean fallBack) {}

    private IpcRpcCall() {}

    /**
     * The target of {@code -ipcconnect=<address>}, or null for HTTP ({@code 0}). {@code auto} and {@code unix} are
     * {@code <network datadir>/node.sock}; {@code unix:<path>} is relative to the network data directory.
     */
    static Target target(String address, Path networkDataDir, String chain) {
        if (address.equals("0")) return null;
        boolean auto = address.equals("auto");
        String path;
        if (auto || address.equals("unix") || address.equals("unix:")) {
            path = "node.sock";
        } else if (address.startsWith("unix:")) {
            path = address.substring("unix:".length());
        } else {
            throw new ConnectionFailed(withHint("Unrecognized address '" + address + "'", chain));
        }
        return new Target(networkDataDir.resolve(path), auto);
    }

    /**
     * The reply text, or null when an {@code auto} target has no socket that accepts (the caller uses HTTP then).
     * A connection that cannot be made is a {@link ConnectionFailed} that says how to start a listening node.
     */
    static String call(Target target, String chain, String request, String uri, String user) {
        SocketChannel channel = connect(target, chain);
        if (channel == null) return null;
        ChannelStream stream;
        try {
            stream = new ChannelStream(channel);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new CliError(e.getMessage());
        }
        try (Init init = new Protocol("bitcoin-cli").connect(stream, "bitcoin-cli"); Rpc rpc = init.makeRpc()) {
            return rpc.executeRpc(request, uri, user);
        } catch (RpcException e) {
            throw new CliError(e.getMessage());
        }
    }

    private static SocketChannel connect(Target target, String chain) {
        String path = target.socket().toString();
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            // No node can listen there either, so auto means HTTP.
            if (target.fallBack()) return null;
            throw new ConnectionFailed(withHint("Unix address path \"" + path + "\" exceeded maximum socket path length", chain));
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(target.socket()));
            return channel;
        } catch (IOException e) {
            if (channel != null) closeQuietly(channel);
            // As Core: auto falls back on a refused connection or a missing file; anything else is an error.
            boolean absent = e instanceof ConnectException || "No such file or directory".equals(e.getMessage());
            if (target.fallBack() && absent) return null;
            throw new ConnectionFailed(withHint(e.getMessage(), chain));
        }
    }

    private static String withHint(String error, String chain) {
        return error + "\n\nProbably bitcoin-node is not running or not listening on a unix socket. Can be started with:\n\n"
                + "    bitcoin-node -chain=" + chain + " -ipcbind=unix";
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to do with it
        }
    }
}
