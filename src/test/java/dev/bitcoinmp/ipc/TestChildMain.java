package dev.bitcoinmp.ipc;

import dev.bitcoinmp.bench.EchoChild;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import java.util.OptionalInt;

/**
 * A spawnable test executable (behind a {@code bitcoin-node} launcher script made by the tests): serves an
 * echoing Init on {@code -ipcfd N} and exits 0 when the connection ends; as a parent ({@code parent <dir>}) it
 * spawns its sibling, prints the child's pid and waits to be killed.
 */
public final class TestChildMain {
    private TestChildMain() {}

    public static void main(String[] args) throws Exception {
        OptionalInt fd;
        try {
            fd = IpcProcess.checkSpawned(args);
        } catch (IllegalArgumentException e) {
            System.err.println("Error: " + e.getMessage());
            System.exit(1);
            return;
        }
        if (fd.isPresent()) {
            new Protocol("bitcoin-node").serve(new FdStream(fd.getAsInt()), EchoChild.echoingInit(), "child");
            System.exit(0);
        }
        if (args.length == 2 && args[0].equals("parent")) {
            IpcImpl ipc = new IpcImpl(args[1] + "/bitcoin-test", "bitcoin-test", null);
            Init init = ipc.spawnProcess("bitcoin-node");
            try (Echo echo = init.makeEcho()) {
                if (!echo.echo("ready").equals("ready")) System.exit(3);
            }
            System.out.println(ProcessHandle.current().pid() + " " + childPid());
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
        System.err.println("Error: usage: -ipcfd N | parent <dir>");
        System.exit(1);
    }

    private static long childPid() {
        return ProcessHandle.current().children().findFirst().orElseThrow().pid();
    }
}
