package dev.bitcoinmp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Arguments become parameters as Core's bitcoin-cli makes them (its conversion table, -named). */
class RpcRequestTest {

    private static String params(String method, boolean named, String... args) {
        String request = RpcRequest.build(method, List.of(args), named);
        return JsonText.members(request).get("params");
    }

    @Test
    void requestShape() {
        assertEquals("{\"method\":\"echo\",\"params\":[],\"id\":1,\"jsonrpc\":\"2.0\"}", RpcRequest.build("echo", List.of(), false));
    }

    @Test
    void onlyJsonParametersAreParsed() {
        // echo takes strings: whatever is given stays a string, JSON-looking or not.
        assertEquals("[\"1\",\"{\\\"a\\\":1}\",\"null\",\"x y\"]", params("echo", false, "1", "{\"a\":1}", "null", "x y"));
        // echojson takes JSON: parsed, and written back compactly with numbers as given.
        assertEquals("[1.10,{\"a\":[]},null,\"s\",true]", params("echojson", false, "1.10", "{ \"a\" : [ ] }", "null", "\"s\"", "true"));
        assertEquals("Error parsing JSON: abc", assertThrows(CliError.class, () -> params("echojson", false, "abc")).getMessage());
        // Beyond the table (echojson has arg0..arg9) nothing is converted.
        assertEquals("[0,1,2,3,4,5,6,7,8,9,\"10\"]", params("echojson", false, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"));
    }

    @Test
    void namedParameters() {
        assertEquals("{\"arg1\":\"x\",\"args\":[\"a\",\"b\"]}", params("echo", true, "a", "arg1=x", "b"));
        // A later value replaces an earlier one where it stood; the value may contain '='.
        assertEquals("{\"arg0\":\"z=1\",\"arg2\":\"y\"}", params("echo", true, "arg0=x", "arg2=y", "arg0=z=1"));
        assertEquals("{\"arg0\":[1],\"args\":[2]}", params("echojson", true, "arg0=[1]", "2"));
        assertThrows(CliError.class, () -> params("echojson", true, "arg3=nope"));
        // An explicit args and collected positionals both go out, as Core sends them; the node rejects the repeat.
        assertEquals("{\"args\":\"e\",\"args\":[\"p\"]}", params("echo", true, "args=e", "p"));
    }
}
