package dev.bitcoinmp.rpc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The methods a node serves, by name, and the {@code help} text built from them. */
public final class CommandTable {

    private final Map<String, RpcCommand> commands = new TreeMap<>();

    public CommandTable add(RpcCommand command) {
        if (commands.putIfAbsent(command.name(), command) != null) {
            throw new IllegalArgumentException("method " + command.name() + " registered twice");
        }
        return this;
    }

    public RpcCommand get(String name) {
        return commands.get(name);
    }

    /**
     * {@code help} without a command: the first help line of every listed method, grouped under
     * {@code == Category ==} headings (categories and names in order), groups separated by a blank line.
     */
    public String overview() {
        Map<String, List<String>> byCategory = new TreeMap<>();
        for (RpcCommand command : commands.values()) {
            if (command.hidden()) continue;
            byCategory.computeIfAbsent(command.category(), k -> new ArrayList<>()).add(command.synopsis());
        }
        List<String> sections = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : byCategory.entrySet()) {
            String category = e.getKey();
            String title = category.isEmpty() ? category : Character.toUpperCase(category.charAt(0)) + category.substring(1);
            sections.add("== " + title + " ==\n" + String.join("\n", e.getValue()));
        }
        return String.join("\n\n", sections);
    }

    /** {@code help <command>}: its full help (hidden ones too), or Core's unknown-command result text. */
    public String help(String name) {
        RpcCommand command = commands.get(name);
        return command == null ? "help: unknown command: " + name : command.help();
    }
}
