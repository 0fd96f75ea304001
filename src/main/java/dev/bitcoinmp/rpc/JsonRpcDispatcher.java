package dev.bitcoinmp.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a JSON-RPC request body into the reply Core's node gives (RPC-FACTS sections 3 and 4): request checks
 * in Core's order, legacy (1.0) and 2.0 reply shapes and HTTP statuses, notifications, batches, named
 * parameters, argument count and type errors, and -28 while the node warms up. Knows nothing of HTTP
 * transport or authentication.
 */
public final class JsonRpcDispatcher {

    /** The HTTP status and JSON body of a reply; a null body means no content (204). */
    public record Reply(int status, String body) {}

    private final CommandTable commands;
    private volatile String warmup;
    private final java.util.concurrent.ConcurrentHashMap<Object, Active> active = new java.util.concurrent.ConcurrentHashMap<>();

    /** A method being run, for {@code getrpcinfo}. */
    public record Active(String method, long startNanos) {}

    /** The methods running now (the caller's own included), oldest first. */
    public List<Active> activeCommands() {
        List<Active> list = new ArrayList<>(active.values());
        list.sort((a, b) -> Long.compare(a.startNanos(), b.startNanos()));
        return list;
    }

    public JsonRpcDispatcher(CommandTable commands, String warmupMessage) {
        this.commands = commands;
        this.warmup = warmupMessage;
    }

    /** Start-up is over: methods run from now on. */
    public void ready() {
        warmup = null;
    }

    /** Start-up is in progress: every method answers -28 with {@code message}. */
    public void warmingUp(String message) {
        warmup = message;
    }

    public Reply handle(String body, String uri, String user) {
        Json.Document document = Json.parse(body);
        if (document == null) return new Reply(500, line(legacyError(null, JsonRpcError.PARSE_ERROR, "Parse error")));
        JsonNode root = document.root();
        if (root.isObject()) {
            Outcome outcome = single(root, document.duplicateKeys(), uri, user);
            if (outcome.reply == null) return new Reply(204, null);
            return new Reply(outcome.status, line(outcome.reply));
        }
        if (root.isArray()) {
            ArrayNode replies = Json.NODES.arrayNode();
            for (JsonNode request : root) {
                Outcome outcome = single(request, document.duplicateKeys(), uri, user);
                if (outcome.reply != null) replies.add(outcome.reply);
            }
            if (replies.isEmpty() && !root.isEmpty()) return new Reply(204, null);
            return new Reply(200, line(replies));
        }
        return new Reply(500, line(legacyError(null, JsonRpcError.PARSE_ERROR, "Top-level object parse error")));
    }

    private static String line(JsonNode node) {
        return Json.write(node) + "\n";
    }

    /** One request's reply (null for a notification) and the HTTP status it would have alone. */
    private record Outcome(ObjectNode reply, int status) {}

    private Outcome single(JsonNode request, Map<JsonNode, Set<String>> duplicates, String uri, String user) {
        if (!request.isObject()) {
            return new Outcome(legacyError(null, JsonRpcError.INVALID_REQUEST, "Invalid Request object"), 400);
        }
        boolean hasId = request.has("id");
        JsonNode id = hasId ? request.get("id") : null;
        JsonNode version = request.get("jsonrpc");
        boolean v2 = false;
        try {
            if (version != null && !version.isNull()) {
                if (!version.isTextual()) throw new JsonRpcError(JsonRpcError.INVALID_REQUEST, "jsonrpc field must be a string");
                if (version.asText().equals("2.0")) v2 = true;
                else if (!version.asText().equals("1.0")) throw new JsonRpcError(JsonRpcError.INVALID_REQUEST, "JSON-RPC version not supported");
            }
            JsonNode method = request.get("method");
            if (method == null) throw new JsonRpcError(JsonRpcError.INVALID_REQUEST, "Missing method");
            if (!method.isTextual()) throw new JsonRpcError(JsonRpcError.INVALID_REQUEST, "Method must be a string");
            JsonNode params = request.get("params");
            if (params != null && !params.isNull() && !params.isArray() && !params.isObject()) {
                throw new JsonRpcError(JsonRpcError.INVALID_REQUEST, "Params must be an array or object");
            }
            JsonNode result = execute(method.asText(), params, duplicates, uri, user);
            if (v2 && !hasId) return new Outcome(null, 204);
            ObjectNode reply = Json.NODES.objectNode();
            if (v2) reply.put("jsonrpc", "2.0");
            reply.set("result", result);
            if (!v2) reply.putNull("error");
            if (hasId) reply.set("id", id);
            return new Outcome(reply, 200);
        } catch (JsonRpcError e) {
            if (v2 && !hasId) return new Outcome(null, 204);
            ObjectNode reply = v2 ? v2Error(id, hasId, e.code(), e.getMessage()) : legacyError(id, hasId, e.code(), e.getMessage());
            int status = v2 ? 200 : switch (e.code()) {
                case JsonRpcError.INVALID_REQUEST -> 400;
                case JsonRpcError.METHOD_NOT_FOUND -> 404;
                default -> 500;
            };
            return new Outcome(reply, status);
        }
    }

    private JsonNode execute(String name, JsonNode params, Map<JsonNode, Set<String>> duplicates, String uri, String user) {
        RpcCommand command = commands.get(name);
        if (warmup != null) throw new JsonRpcError(JsonRpcError.IN_WARMUP, warmup);
        if (command == null) throw new JsonRpcError(JsonRpcError.METHOD_NOT_FOUND, "Method not found");
        List<JsonNode> positional = params == null || params.isNull() ? List.of()
                : params.isArray() ? toList(params) : named(command, (ObjectNode) params, duplicates.get(params));
        checkArguments(command, positional);
        Object key = new Object();
        active.put(key, new Active(name, System.nanoTime()));
        try {
            return command.handler().run(new RpcCommand.Request(command, positional, uri, user));
        } catch (JsonRpcError e) {
            throw e;
        } catch (RuntimeException e) {
            throw new JsonRpcError(JsonRpcError.MISC_ERROR, e.getMessage() == null ? e.toString() : e.getMessage());
        } finally {
            active.remove(key);
        }
    }

    private static List<JsonNode> toList(JsonNode array) {
        List<JsonNode> list = new ArrayList<>(array.size());
        for (JsonNode node : array) list.add(node);
        return list;
    }

    /**
     * Named parameters onto the declared argument names: {@code args} may hold the leading positional values;
     * gaps between given arguments become null, trailing omitted ones stay absent.
     */
    private static List<JsonNode> named(RpcCommand command, ObjectNode params, Set<String> repeated) {
        if (repeated != null && !repeated.isEmpty()) {
            throw new JsonRpcError(JsonRpcError.INVALID_PARAMETER, "Parameter " + repeated.iterator().next() + " specified multiple times");
        }
        List<String> names = command.args().stream().map(RpcCommand.Arg::name).toList();
        JsonNode[] values = new JsonNode[names.size()];
        boolean[] given = new boolean[names.size()];
        int positional = 0;
        JsonNode leading = params.get("args");
        if (leading != null && !names.contains("args")) {
            if (!leading.isArray()) throw new JsonRpcError(JsonRpcError.TYPE_ERROR, "Wrong type passed: args must be an array");
            for (JsonNode value : leading) {
                if (positional >= values.length) {
                    values = Arrays.copyOf(values, positional + 1);
                    given = Arrays.copyOf(given, positional + 1);
                }
                values[positional] = value;
                given[positional] = true;
                positional++;
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (entry.getKey().equals("args") && !names.contains("args")) continue;
            int index = names.indexOf(entry.getKey());
            if (index < 0) throw new JsonRpcError(JsonRpcError.INVALID_PARAMETER, "Unknown named parameter " + entry.getKey());
            if (index < positional) {
                throw new JsonRpcError(JsonRpcError.INVALID_PARAMETER,
                        "Parameter " + entry.getKey() + " specified twice both as positional and named argument");
            }
            values[index] = entry.getValue();
            given[index] = true;
        }
        int last = -1;
        for (int i = 0; i < given.length; i++) if (given[i]) last = i;
        List<JsonNode> out = new ArrayList<>(last + 1);
        for (int i = 0; i <= last; i++) out.add(given[i] ? values[i] : Json.NODES.nullNode());
        return out;
    }

    /** Argument count (-1 with the help text) and JSON types (-3), as Core checks them. */
    private static void checkArguments(RpcCommand command, List<JsonNode> params) {
        List<RpcCommand.Arg> args = command.args();
        int required = (int) args.stream().filter(RpcCommand.Arg::required).count();
        if (params.size() > args.size() || params.size() < required) {
            throw new JsonRpcError(JsonRpcError.MISC_ERROR, command.help());
        }
        for (int i = 0; i < params.size(); i++) {
            RpcCommand.Arg arg = args.get(i);
            JsonNode value = params.get(i);
            if (value == null || arg.type() == null) continue;
            if (value.isNull()) {
                if (arg.required()) throw typeError(i, arg, value);
                continue;
            }
            if (!Json.typeName(value).equals(arg.type())) throw typeError(i, arg, value);
        }
    }

    private static JsonRpcError typeError(int i, RpcCommand.Arg arg, JsonNode value) {
        return new JsonRpcError(JsonRpcError.TYPE_ERROR, "Wrong type passed:\n{\n    \"Position " + (i + 1) + " (" + arg.name()
                + ")\": \"JSON value of type " + Json.typeName(value) + " is not of expected type " + arg.type() + "\"\n}");
    }

    private static ObjectNode legacyError(JsonNode id, int code, String message) {
        return legacyError(id, true, code, message);
    }

    private static ObjectNode legacyError(JsonNode id, boolean hasId, int code, String message) {
        ObjectNode reply = Json.NODES.objectNode();
        reply.putNull("result");
        reply.set("error", error(code, message));
        if (hasId) reply.set("id", id == null ? Json.NODES.nullNode() : id);
        return reply;
    }

    private static ObjectNode v2Error(JsonNode id, boolean hasId, int code, String message) {
        ObjectNode reply = Json.NODES.objectNode();
        reply.put("jsonrpc", "2.0");
        reply.set("error", error(code, message));
        reply.set("id", hasId ? id : Json.NODES.nullNode());
        return reply;
    }

    private static ObjectNode error(int code, String message) {
        ObjectNode error = Json.NODES.objectNode();
        error.put("code", code);
        error.put("message", message);
        return error;
    }
}
