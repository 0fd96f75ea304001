package dev.bitcoinmp.node;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.rpc.JsonRpcDispatcher;

/**
 * What a node process serves as its {@link Init}: {@code makeEcho} gives an object that echoes here;
 * {@code makeRpc}, on a running node (not in a spawned child), runs JSON-RPC requests as HTTP would.
 */
final class NodeInit implements Init {

    private final NodeRpc.Calls rpcCalls;   // null in a spawned child: no node, no RPC

    /** A spawned child's Init: no node behind it. */
    NodeInit() {
        this.rpcCalls = null;
    }

    /** A running node's Init: {@code makeRpc} runs requests through {@code dispatcher}. */
    NodeInit(JsonRpcDispatcher dispatcher) {
        this.rpcCalls = new NodeRpc.Calls(dispatcher);
    }

    @Override
    public Echo makeEcho() {
        return new LocalEcho();
    }

    @Override
    public Rpc makeRpc() {
        if (rpcCalls == null) return Init.super.makeRpc();
        return new NodeRpc(rpcCalls);
    }

    /** Waits up to {@code millis} for requests made through {@link #makeRpc()} objects to finish. */
    boolean awaitRpcIdle(long millis) throws InterruptedException {
        return rpcCalls == null || rpcCalls.awaitIdle(millis);
    }

    /** Core's EchoImpl: gives back its argument. */
    static final class LocalEcho implements Echo {
        @Override
        public String echo(String echo) {
            return echo;
        }

        @Override
        public void close() {}
    }
}
