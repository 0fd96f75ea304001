package dev.bitcoinmp.rpc;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.POJONode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.io.IOException;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * JSON as Core's UniValue treats it: numbers keep their text exactly (so {@code echo} gives back {@code 1.10},
 * not {@code 1.1}), nesting deeper than 512 or anything after the value is a parse error, and objects remember
 * which keys appeared more than once (a named parameter given twice is an error, not a silent overwrite).
 */
final class Json {

    static final int MAX_DEPTH = 512;
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH + 1)
                    .maxStringLength(Integer.MAX_VALUE).maxNumberLength(Integer.MAX_VALUE).build())
            .build();

    private Json() {}

    /** A parsed document and the objects in it that had a repeated key (with the repeated keys). */
    record Document(JsonNode root, Map<JsonNode, Set<String>> duplicateKeys) {}

    /** Parses {@code text}; null if it is not exactly one JSON value (Core's "Parse error"). */
    static Document parse(String text) {
        Map<JsonNode, Set<String>> duplicates = new IdentityHashMap<>();
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken first = parser.nextToken();
            if (first == null) return null;
            JsonNode root = read(parser, first, 1, duplicates);
            if (root == null || parser.nextToken() != null) return null;
            return new Document(root, duplicates);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static JsonNode read(JsonParser p, JsonToken token, int depth, Map<JsonNode, Set<String>> dups) throws IOException {
        if (depth > MAX_DEPTH) return null;
        switch (token) {
            case START_OBJECT -> {
                ObjectNode object = NODES.objectNode();
                Set<String> seen = new HashSet<>();
                for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                    String key = p.currentName();
                    JsonNode value = read(p, p.nextToken(), depth + 1, dups);
                    if (value == null) return null;
                    if (!seen.add(key)) dups.computeIfAbsent(object, k -> new HashSet<>()).add(key);
                    object.set(key, value);
                }
                return object;
            }
            case START_ARRAY -> {
                ArrayNode array = NODES.arrayNode();
                for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                    JsonNode value = read(p, t, depth + 1, dups);
                    if (value == null) return null;
                    array.add(value);
                }
                return array;
            }
            case VALUE_STRING -> {
                return NODES.textNode(p.getText());
            }
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                return number(p.getText());
            }
            case VALUE_TRUE -> {
                return NODES.booleanNode(true);
            }
            case VALUE_FALSE -> {
                return NODES.booleanNode(false);
            }
            case VALUE_NULL -> {
                return NODES.nullNode();
            }
            default -> {
                return null;
            }
        }
    }

    /** A number written back exactly as it was read. */
    static JsonNode number(String text) {
        return NODES.rawValueNode(new RawValue(text));
    }

    static boolean isNumber(JsonNode node) {
        return node.isNumber() || (node instanceof POJONode pojo && pojo.getPojo() instanceof RawValue);
    }

    /** Core's name for a value's type, as its type errors say it. */
    static String typeName(JsonNode node) {
        if (node == null || node.isNull()) return "null";
        if (node.isBoolean()) return "bool";
        if (isNumber(node)) return "number";
        if (node.isTextual()) return "string";
        if (node.isArray()) return "array";
        return "object";
    }

    static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
