package dev.bitcoinmp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.core.JsonToken;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** JSON written as UniValue writes it: bitcoin-cli's output must match Core's byte for byte. */
class JsonTextTest {

    @Test
    void prettyLayoutIsUniValuesWrite2() {
        assertEquals("[\n  \"a\",\n  1\n]", JsonText.pretty("[\"a\",1]"));
        assertEquals("{\n  \"a\": 1,\n  \"b\": [\n    true,\n    null\n  ]\n}", JsonText.pretty("{\"a\":1,\"b\":[true,null]}"));
        // Empty containers: a newline, then the closing bracket at the enclosing level.
        assertEquals("[\n]", JsonText.pretty("[]"));
        assertEquals("{\n}", JsonText.pretty("{}"));
        assertEquals("[\n  [\n  ],\n  {\n  }\n]", JsonText.pretty("[[],{}]"));
        assertEquals("{\n  \"x\": {\n    \"y\": [\n      1\n    ]\n  }\n}", JsonText.pretty(" { \"x\" : { \"y\" : [ 1 ] } } "));
        // Scalars at the top level are written as they are.
        assertEquals("\"s\"", JsonText.pretty("\"s\""));
        assertEquals("-0.10", JsonText.pretty("-0.10"));
    }

    @Test
    void numbersKeepTheirText() {
        assertEquals("[1.10,1E+2,-0,123456789012345678901234567890,1e-7]",
                JsonText.compact("[1.10, 1E+2, -0, 123456789012345678901234567890, 1e-7]"));
    }

    @Test
    void stringsAreEscapedAsUniValueEscapes() {
        String s = "q\" b\\ \b\f\n\r\t \u0001\u001f\u007f é € 😀 /";
        assertEquals("\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f é € 😀 /\"", JsonText.quote(s));
        assertEquals(JsonText.quote(s), JsonText.compact(JsonText.quote(s)));
        assertEquals("\"\\u0000\"", JsonText.compact("\"\\u0000\""));
    }

    @Test
    void notExactlyOneValueIsNull() {
        for (String bad : new String[] {"", " ", "abc", "[1,]", "{\"a\"}", "1 2", "[1]]", "01", "NaN", "'x'", "{a:1}", "\"\u0001\""}) {
            assertNull(JsonText.compact(bad), bad);
        }
    }

    @Test
    void nestingUpTo512() {
        assertNotNull(JsonText.compact("[".repeat(512) + "]".repeat(512)));
        assertNull(JsonText.compact("[".repeat(513) + "]".repeat(513)));
    }

    @Test
    void membersAreExactTextsAndTheFirstOfRepeatedKeysWins() {
        Map<String, String> m = JsonText.members("{\"result\": [1.10, {\"a\": \"x\"}], \"error\":null,\"id\":\"s\\\"\", \"result\":2}");
        assertEquals("[1.10, {\"a\": \"x\"}]", m.get("result"));
        assertEquals("null", m.get("error"));
        assertEquals("\"s\\\"\"", m.get("id"));
        assertEquals("s\"", JsonText.scalar(m.get("id")));
        assertEquals(JsonToken.START_ARRAY, JsonText.kind(m.get("result")));
        assertNull(JsonText.members("[1]"));
        assertNull(JsonText.members("{\"a\":1} x"));
        assertEquals(Map.of(), JsonText.members("{}"));
    }
}
