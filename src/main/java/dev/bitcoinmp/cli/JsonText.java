package dev.bitcoinmp.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * JSON text as Core's bitcoin-cli reads and writes it with UniValue: one value of any type per text, nesting up to
 * 512, numbers written back exactly as they were read, strings escaped as UniValue escapes them, and
 * {@code write(2)}'s pretty layout ({@code "key": value}, two spaces per level, {@code [\n]} for an empty array).
 * Streams tokens with jackson-core rather than building trees: a CLI process starts faster without databind.
 */
final class JsonText {

    static final int MAX_DEPTH = 512;
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                    .maxStringLength(Integer.MAX_VALUE).maxNumberLength(Integer.MAX_VALUE).build())
            .build();

    private JsonText() {}

    /** {@code text} re-written without whitespace; null if it is not exactly one JSON value. */
    static String compact(String text) {
        return rewrite(text, 0);
    }

    /** {@code text} laid out as UniValue's {@code write(2)}; null if it is not exactly one JSON value. */
    static String pretty(String text) {
        return rewrite(text, 2);
    }

    private static String rewrite(String text, int indent) {
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken first = parser.nextToken();
            if (first == null) return null;
            StringBuilder out = new StringBuilder(text.length() + 16);
            write(parser, first, out, indent, 0);
            return parser.nextToken() == null ? out.toString() : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The members of a JSON object, each as its exact text; the first of repeated keys wins, as UniValue's find_value. Null if {@code text} is not an object. */
    static Map<String, String> members(String text) {
        try (JsonParser parser = FACTORY.createParser(text)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) return null;
            Map<String, String> members = new LinkedHashMap<>();
            for (JsonToken t = parser.nextToken(); t != JsonToken.END_OBJECT; t = parser.nextToken()) {
                String key = parser.currentName();
                parser.nextToken();
                int start = (int) parser.currentTokenLocation().getCharOffset();
                if (parser.currentToken().isScalarValue()) parser.finishToken();
                else parser.skipChildren();
                int end = (int) parser.currentLocation().getCharOffset();
                members.putIfAbsent(key, text.substring(start, end));
            }
            return parser.nextToken() == null ? members : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The kind of the one value {@code text} holds (its first token), or null if there is none. */
    static JsonToken kind(String text) {
        if (text == null) return null;
        try (JsonParser parser = FACTORY.createParser(text)) {
            return parser.nextToken();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The content of a JSON string value (UniValue's get_str), or of a scalar its text (getValStr). */
    static String scalar(String text) {
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken t = parser.nextToken();
            return t != null && t.isScalarValue() ? parser.getText() : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** {@code s} as a JSON string literal, escaped as UniValue escapes (control characters and DEL as \\u00xx). */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        appendQuoted(out, s);
        return out.toString();
    }

    private static void write(JsonParser p, JsonToken token, StringBuilder out, int indent, int level) throws IOException {
        switch (token) {
            case START_OBJECT, START_ARRAY -> {
                boolean object = token == JsonToken.START_OBJECT;
                JsonToken end = object ? JsonToken.END_OBJECT : JsonToken.END_ARRAY;
                int inner = Math.max(level, 1);   // UniValue lays out a top-level container as level 1
                out.append(object ? '{' : '[');
                if (indent > 0) out.append('\n');
                int count = 0;
                for (JsonToken t = p.nextToken(); t != end; t = p.nextToken()) {
                    if (count++ > 0) {
                        out.append(',');
                        if (indent > 0) out.append('\n');
                    }
                    spaces(out, indent * inner);
                    if (object) {
                        appendQuoted(out, p.currentName());
                        out.append(indent > 0 ? ": " : ":");
                        t = p.nextToken();
                    }
                    write(p, t, out, indent, inner + 1);
                }
                if (indent > 0 && count > 0) out.append('\n');
                spaces(out, indent * (inner - 1));
                out.append(object ? '}' : ']');
            }
            case VALUE_STRING -> appendQuoted(out, p.getText());
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE, VALUE_NULL -> out.append(p.getText());
            default -> throw new IOException("unexpected " + token);
        }
    }

    private static void spaces(StringBuilder out, int n) {
        for (int i = 0; i < n; i++) out.append(' ');
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void appendQuoted(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        out.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
