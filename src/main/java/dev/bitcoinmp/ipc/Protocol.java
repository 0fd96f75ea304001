package dev.bitcoinmp.ipc;

import dev.bitcoinmp.capnp.Stream;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.mp.MpConnection;
import java.util.concurrent.TimeUnit;

/** The wire side of IPC, as Core's {@code ipc::Protocol}: Cap'n Proto with libmultiprocess' conventions. */
public final class Protocol {

    private final String exeName;

    public Protocol(String exeName) {
        this.exeName = exeName;
    }

    private MpConnection.Options options() {
        MpConnection.Options defaults = MpConnection.Options.defaults();
        return new MpConnection.Options(exeName, defaults.limits(), defaults.debug());
    }

    /** The {@link Init} served at the other end of {@code stream}; closing it closes the connection. */
    public Init connect(Stream stream, String name) {
        return MpConnection.connect(stream, Init.class, name, options());
    }

    /** Serves {@code init} on {@code stream} until the connection ends. */
    public void serve(Stream stream, Init init, String name) throws InterruptedException {
        serveInBackground(stream, init, name).awaitEnd(Long.MAX_VALUE, TimeUnit.DAYS);
    }

    /** Serves {@code init} on {@code stream} on the connection's own threads; returns at once. */
    public MpConnection serveInBackground(Stream stream, Init init, String name) {
        return MpConnection.serve(stream, init, Init.class, name, options());
    }
}
