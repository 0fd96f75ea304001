package dev.bitcoinmp.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A node's settings as Core reads them: the command line first, then the network's section of the config
 * file, then its top section; {@code -name}, {@code -name=value}, {@code -noname}; chains and their data
 * directories and ports. Errors are {@link StartupError}s with Core's wording.
 */
public final class Settings {

    /** The chains, with their names, config sections, data subdirectories and default RPC ports. */
    public enum Chain {
        MAIN("main", "main", "", 8332),
        TESTNET3("test", "test", "testnet3", 18332),
        TESTNET4("testnet4", "testnet4", "testnet4", 48332),
        SIGNET("signet", "signet", "signet", 38332),
        REGTEST("regtest", "regtest", "regtest", 18443);

        public final String name;
        public final String section;
        public final String subdirectory;
        public final int rpcPort;

        Chain(String name, String section, String subdirectory, int rpcPort) {
            this.name = name;
            this.section = section;
            this.subdirectory = subdirectory;
            this.rpcPort = rpcPort;
        }

        static Chain named(String name) {
            for (Chain chain : values()) if (chain.name.equals(name) || chain.subdirectory.equals(name) && !name.isEmpty()) return chain;
            return null;
        }
    }

    private final Map<String, List<String>> commandLine;
    private final Map<String, List<String>> configTop;
    private final Map<String, List<String>> configSection;
    private final Chain chain;
    private final Path dataDir;

    private Settings(Map<String, List<String>> commandLine, Map<String, List<String>> configTop,
                     Map<String, List<String>> configSection, Chain chain, Path dataDir) {
        this.commandLine = commandLine;
        this.configTop = configTop;
        this.configSection = configSection;
        this.chain = chain;
        this.dataDir = dataDir;
    }

    /** Reads {@code args} (without argv[0]) and the config file they name (or the default one). */
    public static Settings load(String[] args, Options options) {
        Map<String, List<String>> commandLine = new LinkedHashMap<>();
        for (String arg : args) {
            if (!arg.startsWith("-")) throw new StartupError("Error: Command line contains unexpected token '" + arg + "', see bitcoind -h for a list of options.");
            String body = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
            int eq = body.indexOf('=');
            String key = eq < 0 ? body : body.substring(0, eq);
            String value = eq < 0 ? null : body.substring(eq + 1);
            put(commandLine, options, key, value, "-" + key);
        }
        Chain chain = chooseChain(commandLine, Map.of());
        Path dataDir = dataDir(commandLine);
        Map<String, List<String>> top = new LinkedHashMap<>();
        Map<String, Map<String, List<String>>> sections = new LinkedHashMap<>();
        Path conf = configPath(commandLine, dataDir);
        if (conf != null) readConfig(conf, options, top, sections, commandLine.containsKey("conf"));
        Chain configured = chooseChain(commandLine, top);
        if (configured != chain) chain = configured;
        Map<String, List<String>> section = sections.getOrDefault(chain.section, Map.of());
        if (chain != Chain.MAIN) {
            for (String key : top.keySet()) {
                Options.Spec spec = options.spec(key);
                if (spec != null && spec.networkOnly() && !commandLine.containsKey(key) && !section.containsKey(key)) {
                    throw new StartupError("Error: Config setting for -" + key + " only applied on " + chain.name
                            + " network when in [" + chain.section + "] section.");
                }
            }
        }
        return new Settings(commandLine, top, section, chain, dataDir);
    }

    private static void put(Map<String, List<String>> into, Options options, String key, String value, String shown) {
        boolean negated = false;
        String name = key;
        if (options.spec(name) == null && name.startsWith("no") && options.spec(name.substring(2)) != null) {
            name = name.substring(2);
            negated = true;
        }
        Options.Spec spec = options.spec(name);
        if (spec == null) throw new StartupError("Error: Invalid parameter " + shown);
        String stored;
        if (negated) {
            // -noname, -noname=1: off; -noname=0: on (Core's double negation).
            stored = value == null || isTrue(value) ? "0" : "1";
        } else {
            stored = value == null ? (spec.takesValue() ? "" : "1") : value;
        }
        List<String> values = into.computeIfAbsent(name, k -> new ArrayList<>());
        if (negated) values.clear();
        values.add(stored);
    }

    private static boolean isTrue(String value) {
        if (value.isEmpty()) return true;
        try {
            return Long.parseLong(value.trim()) != 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static Chain chooseChain(Map<String, List<String>> commandLine, Map<String, List<String>> top) {
        List<Chain> chosen = new ArrayList<>();
        for (Map<String, List<String>> source : List.of(commandLine, top)) {
            if (!chosen.isEmpty()) break;
            if (flag(source, "regtest")) chosen.add(Chain.REGTEST);
            if (flag(source, "testnet")) chosen.add(Chain.TESTNET3);
            if (flag(source, "testnet4")) chosen.add(Chain.TESTNET4);
            if (flag(source, "signet")) chosen.add(Chain.SIGNET);
            List<String> named = source.get("chain");
            if (named != null && !named.isEmpty()) {
                Chain chain = Chain.named(named.getLast());
                if (chain == null) throw new StartupError("Error: Invalid chain name '" + named.getLast() + "'.");
                if (!chosen.contains(chain)) chosen.add(chain);
            }
        }
        if (chosen.size() > 1) {
            throw new StartupError("Error: Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. Can use at most one.");
        }
        return chosen.isEmpty() ? Chain.MAIN : chosen.getFirst();
    }

    private static boolean flag(Map<String, List<String>> source, String key) {
        List<String> values = source.get(key);
        return values != null && !values.isEmpty() && isTrue(values.getLast());
    }

    private static Path dataDir(Map<String, List<String>> commandLine) {
        List<String> values = commandLine.get("datadir");
        Path dir = values == null || values.getLast().isEmpty()
                ? Path.of(System.getProperty("user.home"), ".bitcoin") : Path.of(values.getLast());
        if (values != null && !Files.isDirectory(dir)) {
            throw new StartupError("Error: Specified data directory \"" + values.getLast() + "\" does not exist.");
        }
        return dir.toAbsolutePath().normalize();
    }

    private static Path configPath(Map<String, List<String>> commandLine, Path dataDir) {
        List<String> values = commandLine.get("conf");
        if (values != null && values.getLast().equals("0")) return null;   // -noconf
        Path conf = Path.of(values == null ? "bitcoin.conf" : values.getLast());
        return conf.isAbsolute() ? conf : dataDir.resolve(conf);
    }

    private static void readConfig(Path conf, Options options, Map<String, List<String>> top,
                                   Map<String, Map<String, List<String>>> sections, boolean explicit) {
        if (!Files.exists(conf)) {
            if (explicit) throw new StartupError("Error: Error reading configuration file: specified config file \"" + conf + "\" could not be opened.");
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(conf);
        } catch (IOException e) {
            throw new StartupError("Error: Error reading configuration file: " + e.getMessage());
        }
        String section = null;
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            int hash = line.indexOf('#');
            if (hash >= 0) line = line.substring(0, hash);
            line = line.strip();
            if (line.isEmpty()) continue;
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line.substring(1, line.length() - 1).strip();
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new StartupError("Error: Error reading configuration file: parse error on line " + (n + 1) + ": " + line
                        + (line.startsWith("no") ? ", if you intended to specify a negated option, use " + line + "=1 instead" : ""));
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            String keySection = section;
            int dot = key.indexOf('.');
            if (dot > 0) {
                keySection = key.substring(0, dot);
                key = key.substring(dot + 1);
            }
            Map<String, List<String>> into = keySection == null ? top : sections.computeIfAbsent(keySection, k -> new LinkedHashMap<>());
            put(into, options, key, value, "-" + key);
        }
    }

    /** The values of {@code name}, command line first, then the network section, then the top section. */
    public List<String> all(String name) {
        for (Map<String, List<String>> source : List.of(commandLine, configSection, configTop)) {
            List<String> values = source.get(name);
            if (values != null) return List.copyOf(values);
        }
        return List.of();
    }

    /** The last value of {@code name}, or {@code fallback}. */
    public String get(String name, String fallback) {
        List<String> values = all(name);
        return values.isEmpty() ? fallback : values.getLast();
    }

    public boolean isSet(String name) {
        return !all(name).isEmpty();
    }

    public boolean getBool(String name, boolean fallback) {
        List<String> values = all(name);
        return values.isEmpty() ? fallback : isTrue(values.getLast());
    }

    public int getInt(String name, int fallback) {
        String value = get(name, null);
        if (value == null) return fallback;
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new StartupError("Error: Invalid value for -" + name + ": '" + value + "'");
        }
    }

    public Chain chain() {
        return chain;
    }

    public Path baseDataDir() {
        return dataDir;
    }

    /** Where .cookie, debug.log, the pid file and node.sock live: the chain's subdirectory. */
    public Path networkDataDir() {
        return chain.subdirectory.isEmpty() ? dataDir : dataDir.resolve(chain.subdirectory);
    }

    public int rpcPort() {
        return getInt("rpcport", chain.rpcPort);
    }

    /** Which {@code -debug} categories are on ({@code -debug} or {@code -debug=1} alone: all). */
    public boolean debugCategory(String category) {
        for (String value : all("debug")) {
            String v = value.toLowerCase(Locale.ROOT);
            if (v.isEmpty() || v.equals("1") || v.equals("all") || v.equals(category)) return true;
        }
        return false;
    }
}
