package dev.bitcoinmp.node;

import java.util.LinkedHashMap;
import java.util.Map;

/** The options a node accepts, with their help: anything else on the command line or in the config is an error. */
public final class Options {

    /** An option: whether it takes a value, whether it applies per network only, and its help line. */
    public record Spec(String name, String valueHelp, boolean networkOnly, String help) {
        boolean takesValue() {
            return valueHelp != null;
        }
    }

    private final Map<String, Spec> specs = new LinkedHashMap<>();

    /** {@code -ipcmaxconnections} when not given. */
    public static final int DEFAULT_IPC_MAX_CONNECTIONS = 64;

    public Options add(String name, String valueHelp, boolean networkOnly, String help) {
        specs.put(name, new Spec(name, valueHelp, networkOnly, help));
        return this;
    }

    Spec spec(String name) {
        return specs.get(name);
    }

    /** The options of {@code bitcoind} / {@code bitcoin-node} (IPC options only where {@code ipc}). */
    public static Options node(boolean ipc) {
        Options o = new Options()
                .add("help", null, false, "Print this help message and exit (also -h and -?)")
                .add("h", null, false, "Print this help message and exit")
                .add("?", null, false, "Print this help message and exit")
                .add("version", null, false, "Print version and exit")
                .add("conf", "<file>", false, "Configuration file, relative to the data directory (default: bitcoin.conf)")
                .add("datadir", "<dir>", false, "Data directory (it must exist)")
                .add("chain", "<chain>", false, "Use the chain <chain>: main, test, testnet4, signet, regtest")
                .add("regtest", null, false, "Use the regression test chain")
                .add("testnet", null, false, "Use the test chain (testnet3)")
                .add("testnet4", null, false, "Use the test chain testnet4")
                .add("signet", null, false, "Use the signet chain")
                .add("port", "<port>", true, "P2P port (accepted for compatibility; this node has no P2P)")
                .add("bind", "<addr>", true, "P2P bind address (accepted for compatibility; this node has no P2P)")
                .add("server", null, false, "Accept JSON-RPC commands (always on)")
                .add("daemon", null, false, "Run in the background (not supported: run under a service manager)")
                .add("pid", "<file>", false, "Process ID file, relative to the network data directory (default: bitcoind.pid)")
                .add("printtoconsole", null, false, "Send log lines to the console (default: on)")
                .add("debuglogfile", "<file>", false, "Log file, relative to the network data directory (default: debug.log); -nodebuglogfile: none")
                .add("debug", "<category>", false, "Log debug lines of <category> (ipc, rpc, http; 1 or all: every category)")
                .add("rpcbind", "<addr>[:port]", true, "Listen for JSON-RPC on <addr> (only with -rpcallowip; default 127.0.0.1 and ::1)")
                .add("rpcallowip", "<ip>", false, "Allow JSON-RPC from <ip>: an address, net/mask or CIDR (repeatable)")
                .add("rpcport", "<port>", true, "JSON-RPC port (default: 8332, testnet3 18332, testnet4 48332, signet 38332, regtest 18443)")
                .add("rpcuser", "<user>", false, "JSON-RPC user name")
                .add("rpcpassword", "<pw>", false, "JSON-RPC password")
                .add("rpcauth", "<userpw>", false, "JSON-RPC user as <user>:<salt>$<hash>, hash = hex HMAC-SHA256(salt, password) (repeatable)")
                .add("rpccookiefile", "<loc>", false, "Authentication cookie path, relative to the network data directory (default: .cookie)")
                .add("rpccookieperms", "<readable-by>", false, "Cookie file permissions: owner, group or all (default: owner)")
                .add("rpcthreads", "<n>", false, "Threads serving JSON-RPC (default: 16)")
                .add("rpcworkqueue", "<n>", false, "JSON-RPC requests queued beyond the running ones (default: 64)");
        if (ipc) {
            o.add("ipcbind", "<address>", false, "Listen for IPC connections on <address>: unix (<network data directory>/node.sock)"
                    + " or unix:<path> (relative to the network data directory); repeatable. The socket is owner-only:"
                    + " whoever can open it controls the node");
            o.add("ipcmaxconnections", "<n>", false, "Serve at most <n> IPC connections at a time; further ones are refused"
                    + " (default: " + DEFAULT_IPC_MAX_CONNECTIONS + ")");
        }
        return o;
    }

    /** {@code -help}: every option with its help, one per line. */
    public String helpText(String executable) {
        StringBuilder out = new StringBuilder("Usage: ").append(executable).append(" [options]\n\nOptions:\n");
        for (Spec spec : specs.values()) {
            if (spec.name().equals("h") || spec.name().equals("?")) continue;
            out.append("\n  -").append(spec.name());
            if (spec.takesValue()) out.append('=').append(spec.valueHelp());
            out.append("\n       ").append(spec.help()).append('\n');
        }
        return out.toString();
    }
}
