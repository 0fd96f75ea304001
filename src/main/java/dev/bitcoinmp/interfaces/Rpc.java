package dev.bitcoinmp.interfaces;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;

/** JSON-RPC through IPC: a request text in, the reply text out. */
@CapnpInterface(id = 0xacb1d37f0a713129L)
public interface Rpc extends AutoCloseable {

    @CapnpMethod(ordinal = 0)
    String executeRpc(String request, String uri, String user);

    /** Releases the capability (Rpc has no destroy method). */
    @Override
    void close();
}
