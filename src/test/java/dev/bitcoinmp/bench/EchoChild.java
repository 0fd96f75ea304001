package dev.bitcoinmp.bench;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import dev.bitcoinmp.mp.MpConnection;

/** The benchmark's spawned process: serves an echoing Init on the inherited descriptor until it closes. */
public final class EchoChild {
    private EchoChild() {}

    public static void main(String[] args) throws Exception {
        int fd = Integer.parseInt(args[0]);
        MpConnection connection = MpConnection.serve(new FdStream(fd), echoingInit(), Init.class, "echo-child");
        connection.awaitEnd(Long.MAX_VALUE, java.util.concurrent.TimeUnit.DAYS);
        System.exit(0);
    }

    /** An Init whose Echo objects give back what they are given. */
    static Init echoingInit() {
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
