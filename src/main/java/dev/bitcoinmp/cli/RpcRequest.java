package dev.bitcoinmp.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JSON-RPC request bitcoin-cli sends for {@code method} and its command-line arguments, as Core's client builds
 * it: an argument is parsed as JSON only where the method's parameter takes JSON (Core's conversion table, here the
 * methods this node serves), every other argument is sent as the string it is; with {@code -named},
 * {@code name=value} arguments become named parameters and the others are collected, in order, under {@code args}.
 */
final class RpcRequest {

    /** Parameters sent as JSON rather than strings, as (method, position) and (method, name). */
    private static final Set<String> CONVERTED;

    static {
        List<String> converted = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            converted.add("echojson/" + i);
            converted.add("echojson/arg" + i);
        }
        CONVERTED = Set.copyOf(converted);
    }

    private RpcRequest() {}

    /** The request text; an argument that should be JSON but is not fails with Core's message. */
    static String build(String method, List<String> args, boolean named) {
        String params = named ? namedParams(method, args) : positionalParams(method, args);
        return "{\"method\":" + JsonText.quote(method) + ",\"params\":" + params + ",\"id\":1,\"jsonrpc\":\"2.0\"}";
    }

    private static String positionalParams(String method, List<String> args) {
        List<String> values = new ArrayList<>(args.size());
        for (int i = 0; i < args.size(); i++) values.add(value(method, Integer.toString(i), args.get(i)));
        return "[" + String.join(",", values) + "]";
    }

    private static String namedParams(String method, List<String> args) {
        // A later name=value replaces an earlier one in place, as UniValue's pushKV does.
        Map<String, String> named = new LinkedHashMap<>();
        List<String> positional = new ArrayList<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq < 0) {
                positional.add(value(method, Integer.toString(positional.size()), arg));
            } else {
                String name = arg.substring(0, eq);
                named.put(name, value(method, name, arg.substring(eq + 1)));
            }
        }
        List<String> members = new ArrayList<>();
        named.forEach((name, value) -> members.add(JsonText.quote(name) + ":" + value));
        // Appended even after an explicit args=..., as Core's pushKVEnd: the server decides what a repeated key means.
        if (!positional.isEmpty()) members.add("\"args\":[" + String.join(",", positional) + "]");
        return "{" + String.join(",", members) + "}";
    }

    private static String value(String method, String parameter, String arg) {
        if (!CONVERTED.contains(method + "/" + parameter)) return JsonText.quote(arg);
        String json = JsonText.compact(arg);
        if (json == null) throw new CliError("Error parsing JSON: " + arg);
        return json;
    }
}
