package dev.bitcoinmp.rpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/** The methods every node serves: the echo family, {@code help}, {@code stop}, {@code uptime}, {@code getrpcinfo}. */
public final class StandardCommands {
    private StandardCommands() {}

    /** What the methods need from the node. */
    public record Node(long startNanos, Runnable requestStop, UnaryOperator<String> echoIpc, Supplier<String> logPath) {}

    /** A table with the standard methods; {@code dispatcher} is set later, for {@code getrpcinfo}. */
    public static CommandTable create(Node node, Supplier<JsonRpcDispatcher> dispatcher) {
        CommandTable table = new CommandTable();
        List<RpcCommand.Arg> anyTen = new ArrayList<>();
        for (int i = 0; i < 10; i++) anyTen.add(RpcCommand.Arg.optional("arg" + i, null));
        RpcCommand.Handler echo = request -> {
            ArrayNode params = Json.NODES.arrayNode();
            for (JsonNode param : request.params()) params.add(param == null ? Json.NODES.nullNode() : param);
            return params;
        };
        table.add(new RpcCommand("hidden", "echo", anyTen, true,
                "Gives back its arguments unchanged, as an array: for testing the RPC server and its clients.", echo));
        table.add(new RpcCommand("hidden", "echojson", anyTen, true,
                "Like echo; clients pass its arguments as JSON rather than as strings.", echo));
        table.add(new RpcCommand("hidden", "echoipc", List.of(RpcCommand.Arg.required("arg", "string")), true,
                "Gives back \"arg\" through a new child process over IPC where this executable has IPC\n"
                        + "(bitcoin-node: spawns bitcoin-node, calls Echo.echo, reaps it); bitcoind echoes it itself.",
                request -> Json.NODES.textNode(node.echoIpc().apply(request.param(0).asText()))));
        table.add(new RpcCommand("control", "help", List.of(RpcCommand.Arg.optional("command", "string")), false,
                "Lists the commands, or gives the full help of \"command\".",
                request -> {
                    JsonNode command = request.param(0);
                    return Json.NODES.textNode(command == null ? table.overview() : table.help(command.asText()));
                }));
        table.add(new RpcCommand("control", "stop", List.of(), false,
                "Stops the node; the reply arrives before it exits.",
                request -> {
                    node.requestStop().run();
                    return Json.NODES.textNode("Bitcoin node stopping");
                }));
        table.add(new RpcCommand("control", "uptime", List.of(), false,
                "Whole seconds since the node started.",
                request -> Json.number(Long.toString((System.nanoTime() - node.startNanos()) / 1_000_000_000L))));
        table.add(new RpcCommand("control", "getrpcinfo", List.of(), false,
                "The RPC methods running now, with how long each has run (microseconds), and the debug log's path.",
                request -> {
                    ObjectNode info = Json.NODES.objectNode();
                    ArrayNode active = info.putArray("active_commands");
                    long now = System.nanoTime();
                    for (JsonRpcDispatcher.Active a : dispatcher.get().activeCommands()) {
                        ObjectNode entry = active.addObject();
                        entry.put("method", a.method());
                        entry.put("duration", (now - a.startNanos()) / 1000);
                    }
                    info.put("logpath", node.logPath().get());
                    return info;
                }));
        return table;
    }
}
