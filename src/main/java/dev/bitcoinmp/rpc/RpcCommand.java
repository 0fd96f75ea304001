package dev.bitcoinmp.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One JSON-RPC method: its category and name for {@code help}, its declared arguments (named parameters map
 * onto them), whether {@code help} lists it, its full help text, and what it does.
 */
public record RpcCommand(String category, String name, List<Arg> args, boolean hidden, String description, Handler handler) {

    /** A declared argument: its name, the JSON type it must have (null: any), and whether it is required. */
    public record Arg(String name, String type, boolean required) {
        public static Arg required(String name, String type) {
            return new Arg(name, type, true);
        }

        public static Arg optional(String name, String type) {
            return new Arg(name, type, false);
        }
    }

    /** What a method does with its (type-checked) parameters. */
    @FunctionalInterface
    public interface Handler {
        JsonNode run(Request request);
    }

    /**
     * A call: positional parameters after named ones were mapped (null entries are gaps, JSON null given as
     * such stays a NullNode), the URI it came on and the authenticated user.
     */
    public record Request(RpcCommand command, List<JsonNode> params, String uri, String user) {
        /** Parameter {@code i}, or null when absent or JSON null. */
        public JsonNode param(int i) {
            JsonNode node = i < params.size() ? params.get(i) : null;
            return node == null || node.isNull() ? null : node;
        }
    }

    /** The first line of the help: the name and the arguments, optional ones in parentheses. */
    public String synopsis() {
        StringBuilder line = new StringBuilder(name);
        for (Arg arg : args) {
            String shown = "string".equals(arg.type()) ? "\"" + arg.name() + "\"" : arg.name();
            line.append(' ').append(arg.required() ? shown : "( " + shown + " )");
        }
        return line.toString();
    }

    /** The full help: synopsis, blank line, description. */
    public String help() {
        return synopsis() + "\n\n" + description();
    }
}
