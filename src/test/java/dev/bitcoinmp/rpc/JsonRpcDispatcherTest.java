package dev.bitcoinmp.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Request handling and reply shapes, as RPC-FACTS sections 3 and 4 state Core's behaviour. */
class JsonRpcDispatcherTest {

    private final AtomicInteger stops = new AtomicInteger();
    private JsonRpcDispatcher dispatcher;

    @BeforeEach
    void setUp() {
        StandardCommands.Node node = new StandardCommands.Node(System.nanoTime(), stops::incrementAndGet,
                text -> "ipc:" + text, () -> "/data/regtest/debug.log");
        JsonRpcDispatcher[] self = new JsonRpcDispatcher[1];
        dispatcher = new JsonRpcDispatcher(StandardCommands.create(node, () -> self[0]), null);
        self[0] = dispatcher;
    }

    private JsonRpcDispatcher.Reply call(String body) {
        return dispatcher.handle(body, "/", "__cookie__");
    }

    private void expect(String body, int status, String reply) {
        JsonRpcDispatcher.Reply r = call(body);
        assertEquals(status, r.status(), "status for " + body);
        assertEquals(reply == null ? null : reply + "\n", r.body(), "body for " + body);
    }

    @Test
    void parseErrors() {
        String parse = "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}";
        expect("", 500, parse);
        expect("{", 500, parse);
        expect("{\"method\":\"echo\"} x", 500, parse);
        expect("[".repeat(513) + "]".repeat(513), 500, parse);
        expect("\"text\"", 500, "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Top-level object parse error\"},\"id\":null}");
        expect("42", 500, "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Top-level object parse error\"},\"id\":null}");
    }

    @Test
    void legacyAndVersion2Replies() {
        expect("{\"method\":\"echo\",\"params\":[\"a\",1.10,null],\"id\":7}", 200,
                "{\"result\":[\"a\",1.10,null],\"error\":null,\"id\":7}");
        expect("{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":\"x\"}", 200, "{\"result\":[],\"error\":null,\"id\":\"x\"}");
        expect("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[true],\"id\":null}", 200,
                "{\"jsonrpc\":\"2.0\",\"result\":[true],\"id\":null}");
        // A legacy request without an id gets a reply without one.
        expect("{\"method\":\"echo\"}", 200, "{\"result\":[],\"error\":null}");
        // A 2.0 request without an id is a notification: it runs, and nothing comes back.
        expect("{\"jsonrpc\":\"2.0\",\"method\":\"stop\"}", 204, null);
        assertEquals(1, stops.get());
    }

    @Test
    void invalidRequestsInCoresOrder() {
        expect("{\"jsonrpc\":2,\"method\":\"echo\",\"id\":1}", 400,
                "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"jsonrpc field must be a string\"},\"id\":1}");
        expect("{\"jsonrpc\":\"3.0\",\"method\":\"echo\",\"id\":1}", 400,
                "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"JSON-RPC version not supported\"},\"id\":1}");
        expect("{\"id\":1}", 400, "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"Missing method\"},\"id\":1}");
        expect("{\"method\":3,\"id\":1}", 400, "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"Method must be a string\"},\"id\":1}");
        expect("{\"method\":\"echo\",\"params\":3,\"id\":1}", 400,
                "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"Params must be an array or object\"},\"id\":1}");
        // In 2.0 every error is HTTP 200.
        expect("{\"jsonrpc\":\"2.0\",\"method\":3,\"id\":1}", 200,
                "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"Method must be a string\"},\"id\":1}");
    }

    @Test
    void unknownMethodAndWrongArguments() {
        expect("{\"method\":\"nosuch\",\"id\":1}", 404, "{\"result\":null,\"error\":{\"code\":-32601,\"message\":\"Method not found\"},\"id\":1}");
        JsonRpcDispatcher.Reply tooMany = call("{\"method\":\"uptime\",\"params\":[1],\"id\":1}");
        assertEquals(500, tooMany.status());
        assertTrue(tooMany.body().contains("\"code\":-1,\"message\":\"uptime\\n\\nWhole seconds"), tooMany.body());
        JsonRpcDispatcher.Reply missing = call("{\"method\":\"echoipc\",\"params\":[],\"id\":1}");
        assertTrue(missing.body().contains("\"code\":-1,\"message\":\"echoipc \\\"arg\\\""), missing.body());
        JsonRpcDispatcher.Reply type = call("{\"jsonrpc\":\"2.0\",\"method\":\"echoipc\",\"params\":[5],\"id\":1}");
        assertEquals(200, type.status());
        assertTrue(type.body().contains("\"code\":-3,\"message\":\"Wrong type passed:"), type.body());
        assertTrue(type.body().contains("JSON value of type number is not of expected type string"), type.body());
    }

    @Test
    void namedParameters() {
        expect("{\"method\":\"echo\",\"params\":{\"arg1\":\"b\",\"arg3\":4},\"id\":1}", 200,
                "{\"result\":[null,\"b\",null,4],\"error\":null,\"id\":1}");
        expect("{\"method\":\"echo\",\"params\":{\"args\":[\"a\",\"b\"],\"arg3\":\"d\"},\"id\":1}", 200,
                "{\"result\":[\"a\",\"b\",null,\"d\"],\"error\":null,\"id\":1}");
        expect("{\"method\":\"echo\",\"params\":{\"nope\":1},\"id\":1}", 500,
                "{\"result\":null,\"error\":{\"code\":-8,\"message\":\"Unknown named parameter nope\"},\"id\":1}");
        expect("{\"method\":\"echo\",\"params\":{\"arg0\":1,\"arg0\":2},\"id\":1}", 500,
                "{\"result\":null,\"error\":{\"code\":-8,\"message\":\"Parameter arg0 specified multiple times\"},\"id\":1}");
        expect("{\"method\":\"echo\",\"params\":{\"args\":[1],\"arg0\":2},\"id\":1}", 500,
                "{\"result\":null,\"error\":{\"code\":-8,\"message\":\"Parameter arg0 specified twice both as positional and named argument\"},\"id\":1}");
        expect("{\"method\":\"echoipc\",\"params\":{\"arg\":\"hi\"},\"id\":1}", 200, "{\"result\":\"ipc:hi\",\"error\":null,\"id\":1}");
    }

    @Test
    void batches() {
        expect("[]", 200, "[]");
        expect("[{\"method\":\"echo\",\"params\":[1],\"id\":1},{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},7,"
                        + "{\"jsonrpc\":\"2.0\",\"method\":\"nosuch\",\"id\":2}]", 200,
                "[{\"result\":[1],\"error\":null,\"id\":1},"
                        + "{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request object\"},\"id\":null},"
                        + "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method not found\"},\"id\":2}]");
        expect("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}]", 204, null);
    }

    @Test
    void warmUpAnswersEveryMethodWith28() {
        dispatcher.warmingUp("Loading block index…");
        expect("{\"method\":\"help\",\"id\":1}", 500, "{\"result\":null,\"error\":{\"code\":-28,\"message\":\"Loading block index…\"},\"id\":1}");
        expect("{\"jsonrpc\":\"2.0\",\"method\":\"stop\",\"id\":1}", 200,
                "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-28,\"message\":\"Loading block index…\"},\"id\":1}");
        assertEquals(0, stops.get());
        dispatcher.ready();
        assertEquals(200, call("{\"method\":\"help\",\"id\":1}").status());
    }

    @Test
    void helpUptimeAndRpcInfo() {
        JsonRpcDispatcher.Reply help = call("{\"method\":\"help\",\"id\":1}");
        assertEquals("{\"result\":\"== Control ==\\ngetrpcinfo\\nhelp ( \\\"command\\\" )\\nstop\\nuptime\",\"error\":null,\"id\":1}\n", help.body());
        assertTrue(call("{\"method\":\"help\",\"params\":[\"echo\"],\"id\":1}").body().contains("Gives back its arguments"));
        expect("{\"method\":\"help\",\"params\":[\"nosuch\"],\"id\":1}", 200, "{\"result\":\"help: unknown command: nosuch\",\"error\":null,\"id\":1}");
        expect("{\"method\":\"uptime\",\"id\":1}", 200, "{\"result\":0,\"error\":null,\"id\":1}");
        JsonRpcDispatcher.Reply info = call("{\"method\":\"getrpcinfo\",\"id\":1}");
        assertTrue(info.body().matches("\\{\"result\":\\{\"active_commands\":\\[\\{\"method\":\"getrpcinfo\",\"duration\":\\d+}],"
                + "\"logpath\":\"/data/regtest/debug.log\"},\"error\":null,\"id\":1}\\n"), info.body());
        assertNull(call("{\"jsonrpc\":\"2.0\",\"method\":\"uptime\"}").body());
    }
}
