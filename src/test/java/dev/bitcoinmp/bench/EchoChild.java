package dev.bitcoinmp.bench;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.ipc.IpcListener;
import dev.bitcoinmp.ipc.Protocol;
import dev.bitcoinmp.mp.MpConnection;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's spawned process: serves an echoing Init on the inherited descriptor until it closes, and,
 * given a socket path as second argument, also to every client of a unix socket there (as -ipcbind does).
 */
public final class EchoChild {
    private EchoChild() {}

    public static void main(String[] args) throws Exception {
        int fd = Integer.parseInt(args[0]);
        Init init = echoingInit();
        IpcListener listener = null;
        if (args.length > 1) {
            Path socket = Path.of(args[1]).toAbsolutePath();
            listener = new IpcListener(new Protocol("echo-child"), init, 64, System.err::println, null);
            listener.listen(socket.getParent(), "unix:" + socket);
        }
        MpConnection connection = MpConnection.serve(new FdStream(fd), init, Init.class, "echo-child");
        connection.awaitEnd(Long.MAX_VALUE, TimeUnit.DAYS);
        if (listener != null) listener.close();
        System.exit(0);
    }

    /** An Init whose Echo objects give back what they are given. */
    public static Init echoingInit() {
        return new Init() {
            @Override
            public Echo makeEcho() {
                return new Echo() {
                    @Override
                    public String echo(String echo) {
                        return echo;
                    }

                    @Override
                    public void close() {}
                };
            }
        };
    }
}
