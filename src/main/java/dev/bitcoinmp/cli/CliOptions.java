package dev.bitcoinmp.cli;

import dev.bitcoinmp.node.Options;
import java.util.ArrayList;
import java.util.List;

/**
 * The options bitcoin-cli takes before its command, with Core's names, meanings and defaults, and its {@code -help}
 * text. Only these are accepted on the command line; the config file may also hold the node's options (the node
 * and bitcoin-cli share bitcoin.conf), which bitcoin-cli reads past.
 */
final class CliOptions {

    static final String VERSION = "0.1.0";
    static final int DEFAULT_CLIENT_TIMEOUT = 900;
    static final String DEFAULT_RPCCONNECT = "127.0.0.1";

    private final Options options = new Options();
    private final List<Options.Spec> specs = new ArrayList<>();

    private CliOptions() {}

    static CliOptions standard() {
        CliOptions o = new CliOptions();
        o.add("?", null, false, "Print this help message and exit");
        o.add("h", null, false, "Print this help message and exit");
        o.add("help", null, false, "Print this help message and exit (also -h and -?)");
        o.add("version", null, false, "Print version and exit");
        o.add("conf", "<file>", false, "Specify configuration file. Relative paths will be prefixed by datadir location. (default: bitcoin.conf)");
        o.add("datadir", "<dir>", false, "Specify data directory");
        o.add("chain", "<chain>", false, "Use the chain <chain> (default: main). Allowed values: main, test, testnet4, signet, regtest");
        o.add("regtest", null, false, "Enter regression test mode, which uses a special chain in which blocks can be solved instantly. Equivalent to -chain=regtest.");
        o.add("testnet", null, false, "Use the testnet3 chain. Equivalent to -chain=test.");
        o.add("testnet4", null, false, "Use the testnet4 chain. Equivalent to -chain=testnet4.");
        o.add("signet", null, false, "Use the signet chain. Equivalent to -chain=signet.");
        o.add("named", null, false, "Pass named instead of positional arguments (default: false)");
        o.add("rpcclienttimeout", "<n>", false, "Timeout in seconds during HTTP requests, or 0 for no timeout. (default: " + DEFAULT_CLIENT_TIMEOUT + ")");
        o.add("rpcconnect", "<ip>", false, "Send commands to node running on <ip> (default: " + DEFAULT_RPCCONNECT + ")");
        o.add("rpccookiefile", "<loc>", false, "Location of the auth cookie. Relative paths will be prefixed by a net-specific datadir location. (default: data dir)");
        o.add("rpcpassword", "<pw>", false, "Password for JSON-RPC connections");
        o.add("rpcport", "<port>", true, "Connect to JSON-RPC on <port> (default: 8332, testnet: 18332, testnet4: 48332, signet: 38332, regtest: 18443)");
        o.add("rpcuser", "<user>", false, "Username for JSON-RPC connections");
        o.add("rpcwait", null, false, "Wait for RPC server to start");
        o.add("rpcwaittimeout", "<n>", false, "Timeout in seconds to wait for the RPC server to start, or 0 for no timeout. (default: 0)");
        o.add("rpcwallet", "<walletname>", false, "Send RPC for non-default wallet on RPC server (needs to exactly match corresponding -wallet option passed to bitcoind). This changes the RPC endpoint used, e.g. http://127.0.0.1:8332/wallet/<walletname>");
        o.add("stdin", null, false, "Read extra arguments from standard input, one per line until EOF/Ctrl-D (recommended for sensitive information such as passphrases). When combined with -stdinrpcpass, the first line from standard input is used for the RPC password.");
        o.add("stdinrpcpass", null, false, "Read RPC password from standard input as a single line. When combined with -stdin, the first line from standard input is used for the RPC password.");
        o.add("ipcconnect", "<address>", false, "Connect to bitcoin-node through IPC socket instead of TCP socket to execute requests. Valid <address> values are 'auto' to try to connect to default socket path at <datadir>/node.sock but fall back to TCP if it is not available, 'unix' to connect to the default socket and fail if it isn't available, or 'unix:<socket path>' to connect to a socket at a nonstandard path. -noipcconnect can be specified to avoid attempting to use IPC at all. Default value: auto");
        return o;
    }

    private void add(String name, String valueHelp, boolean networkOnly, String help) {
        options.add(name, valueHelp, networkOnly, help);
        specs.add(new Options.Spec(name, valueHelp, networkOnly, help));
    }

    /**
     * The name of the option {@code arg} sets ({@code -name}, {@code --name}, {@code -name=value}, {@code -noname}),
     * or null if bitcoin-cli has no such option.
     */
    String known(String arg) {
        String body = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
        int eq = body.indexOf('=');
        String key = eq < 0 ? body : body.substring(0, eq);
        if (has(key)) return key;
        if (key.startsWith("no") && has(key.substring(2))) return key.substring(2);
        return null;
    }

    private boolean has(String name) {
        for (Options.Spec spec : specs) if (spec.name().equals(name)) return true;
        return false;
    }

    /** Whether {@code args} (the options only) ask for the help text, as Core's HelpRequested. */
    boolean helpRequested(List<String> args) {
        return flag(args, "?") || flag(args, "h") || flag(args, "help");
    }

    /** The last value {@code args} give the flag {@code name} ({@code -name}, {@code -name=0}, {@code -noname}). */
    boolean flag(List<String> args, String name) {
        boolean on = false;
        for (String arg : args) {
            if (!name.equals(known(arg))) continue;
            String body = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
            int eq = body.indexOf('=');
            boolean value = eq < 0 || isTrue(body.substring(eq + 1));
            on = body.startsWith(name) ? value : !value;   // -noname=0 is on
        }
        return on;
    }

    /** Core's InterpretBool: an integer, non-zero is true; empty is true; anything else false. */
    private static boolean isTrue(String value) {
        if (value.isEmpty()) return true;
        return BitcoinCli.atoi(value) != 0;
    }

    /** The options to read bitcoin.conf with: the node's (so a node's config file is accepted) and these. */
    Options forConfigFile() {
        Options all = Options.node(true);
        for (Options.Spec spec : specs) all.add(spec.name(), spec.valueHelp(), spec.networkOnly(), spec.help());
        return all;
    }

    String helpText() {
        String options = this.options.helpText("bitcoin-cli");
        return "bitcoin-cli (bitcoin-mp) RPC client version " + VERSION + "\n\n"
                + "The bitcoin-cli utility provides a command line interface to interact with a bitcoin-mp node's RPC server.\n\n"
                + "It talks to the node over its unix socket (-ipcconnect) where there is one, and over HTTP otherwise.\n\n"
                + "Use the \"help\" command to list all commands. Use \"help <command>\" to show help for that command.\n"
                + "The -named option allows you to specify parameters using the key=value format, eliminating the need to pass unused positional parameters.\n\n"
                + "Usage: bitcoin-cli [options] <command> [params]\n"
                + "or:    bitcoin-cli [options] -named <command> [name=value]...\n"
                + "or:    bitcoin-cli [options] help\n"
                + "or:    bitcoin-cli [options] help <command>\n\n"
                + options.substring(options.indexOf("Options:"));
    }
}
