package dev.bitcoinmp.cli;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Stream;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.ipc.IpcProcess;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.ipc.UnixAddress;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Path;

/**
 * A JSON-RPC request over a node's unix socket, as Core's {@code bitcoin-cli -ipcconnect}: connect, {@code
 * Init.makeRpc()}, {@code Rpc.executeRpc(request, uri, user)}, disconnect.
 */
final class IpcRpcCall {

    private IpcRpcCall() {}

    /**
     * The reply text, or null for HTTP: {@code -ipcconnect=0}, or {@code auto} when {@code <network
     * datadir>/node.sock} is missing or refuses. {@code unix} and {@code unix:<path>} (relative to the network data
     * directory) must connect: a failure is a {@link ConnectionFailed} that says how to start a listening node.
     */
    static String call(String ipcconnect, Path networkDataDir, String chain, String request, String uri, String user) {
        if (ipcconnect.equals("0")) return null;
        boolean auto = ipcconnect.equals("auto");
        Stream stream;
        try {
            stream = IpcProcess.connect(UnixAddress.parse(auto ? "unix" : ipcconnect, networkDataDir));
        } catch (IllegalArgumentException e) {
            // A default path too long to be a socket: no node can listen there either.
            if (auto) return null;
            throw new ConnectionFailed(withHint(e.getMessage(), chain));
        } catch (IOException e) {
            // As Core: auto falls back on a refused connection or a missing file; anything else is an error.
            if (auto && (e.getCause() instanceof ConnectException || "No such file or directory".equals(e.getMessage()))) return null;
            throw new ConnectionFailed(withHint(e.getMessage(), chain));
        }
        try (Init init = new Protocol("bitcoin-cli").connect(stream, "bitcoin-cli"); Rpc rpc = init.makeRpc()) {
            return rpc.executeRpc(request, uri, user);
        } catch (RpcException e) {
            throw new CliError(e.getMessage());
        }
    }

    private static String withHint(String error, String chain) {
        return error + "\n\nProbably bitcoin-node is not running or not listening on a unix socket. Can be started with:\n\n"
                + "    bitcoin-node -chain=" + chain + " -ipcbind=unix";
    }
}
