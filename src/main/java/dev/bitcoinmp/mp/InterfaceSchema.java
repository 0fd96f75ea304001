package dev.bitcoinmp.mp;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Cap'n Proto interface derived from a Java interface annotated with {@link CapnpInterface}: its methods,
 * and those of the annotated interfaces it extends, each under its declaring interface's ID.
 */
public final class InterfaceSchema {

    private static final ClassValue<InterfaceSchema> CACHE = new ClassValue<>() {
        @Override
        protected InterfaceSchema computeValue(Class<?> type) {
            return new InterfaceSchema(type);
        }
    };

    final Class<?> type;
    final long id;
    private final Map<Method, MethodSchema> byMethod = new HashMap<>();
    private final Map<Long, Map<Integer, MethodSchema>> byWire = new HashMap<>();
    // The same as arrays, for the lookup of every incoming call (no boxing of the ids).
    private final long[] wireIds;
    private final MethodSchema[][] wireMethods;   // [interface][ordinal], null where there is none
    final MethodSchema destroy;

    private InterfaceSchema(Class<?> type) {
        Declarations.InterfaceDecl annotation = Declarations.interfaceOf(type);
        if (!type.isInterface() || annotation == null) {
            throw new IllegalArgumentException(type.getName() + " is not an interface annotated with @CapnpInterface");
        }
        this.type = type;
        this.id = annotation.id();
        MethodSchema destroyMethod = null;
        for (Class<?> declaring : hierarchy(type)) {
            long declaringId = Declarations.interfaceOf(declaring).id();
            for (Method method : declaring.getDeclaredMethods()) {
                Declarations.MethodDecl declared = Declarations.methodOf(method);
                if (declared == null) continue;
                MethodSchema schema = new MethodSchema(method, declared, declaringId);
                if (byWire.computeIfAbsent(declaringId, k -> new HashMap<>()).put(schema.ordinal, schema) != null) {
                    throw new IllegalArgumentException(declaring.getName() + ": ordinal " + schema.ordinal + " used twice");
                }
                byMethod.put(method, schema);
                if (schema.destroy && declaring == type) destroyMethod = schema;
            }
        }
        this.destroy = destroyMethod != null ? destroyMethod : inheritedDestroy();
        wireIds = new long[byWire.size()];
        wireMethods = new MethodSchema[byWire.size()][];
        int i = 0;
        for (Map.Entry<Long, Map<Integer, MethodSchema>> e : byWire.entrySet()) {
            wireIds[i] = e.getKey();
            int maxOrdinal = -1;
            for (int ordinal : e.getValue().keySet()) maxOrdinal = Math.max(maxOrdinal, ordinal);
            wireMethods[i] = new MethodSchema[maxOrdinal + 1];
            for (MethodSchema m : e.getValue().values()) wireMethods[i][m.ordinal] = m;
            i++;
        }
    }

    private MethodSchema inheritedDestroy() {
        for (MethodSchema m : byMethod.values()) if (m.destroy) return m;
        return null;
    }

    /** The schema of an annotated interface (cached). */
    public static InterfaceSchema of(Class<?> type) {
        return CACHE.get(type);
    }

    /** The interface and the annotated interfaces it extends, the interface itself first. */
    static List<Class<?>> hierarchy(Class<?> type) {
        LinkedHashMap<Class<?>, Boolean> seen = new LinkedHashMap<>();
        collect(type, seen);
        return new ArrayList<>(seen.keySet());
    }

    private static void collect(Class<?> type, Map<Class<?>, Boolean> seen) {
        if (Declarations.interfaceOf(type) == null || seen.containsKey(type)) return;
        seen.put(type, true);
        for (Class<?> parent : type.getInterfaces()) collect(parent, seen);
    }

    static String schemaName(Class<?> type) {
        Declarations.InterfaceDecl annotation = Declarations.interfaceOf(type);
        return annotation != null && !annotation.name().isEmpty() ? annotation.name() : type.getSimpleName();
    }

    MethodSchema method(Method method) {
        return byMethod.get(method);
    }

    MethodSchema method(long interfaceId, int ordinal) {
        for (int i = 0; i < wireIds.length; i++) {
            if (wireIds[i] == interfaceId) {
                MethodSchema[] methods = wireMethods[i];
                return ordinal >= 0 && ordinal < methods.length ? methods[ordinal] : null;
            }
        }
        return null;
    }

    public long id() {
        return id;
    }

    /** Every method, for tests that compare declarations with schema files. */
    public List<MethodDescription> describe() {
        List<MethodDescription> out = new ArrayList<>();
        for (MethodSchema m : byMethod.values()) {
            List<String> params = new ArrayList<>();
            if (m.context) params.add("context :Context ptr[0]");
            for (Codec c : m.params) params.add(c.name + " :" + c.schemaType + " " + c.slot());
            String result = m.result == null ? "" : m.result.name + " :" + m.result.schemaType + " " + m.result.slot();
            out.add(new MethodDescription(m.interfaceId, m.ordinal, m.name, params, result));
        }
        out.sort((a, b) -> a.interfaceId() != b.interfaceId() ? Long.compare(a.interfaceId(), b.interfaceId())
                : Integer.compare(a.ordinal(), b.ordinal()));
        return out;
    }

    /** A method as the schema would state it, with the slots of its fields. */
    public record MethodDescription(long interfaceId, int ordinal, String name, List<String> params, String result) {}

    /** The fields of a record as a struct, with their slots: {@code name :Type bits[a, b)} or {@code ptr[n]}. */
    public static List<String> describeStruct(Class<? extends Record> type) {
        Codec.RecordCodec codec = new Codec.RecordCodec("value", type, 0);
        List<String> out = new ArrayList<>();
        for (Codec c : codec.fields) out.add(c.name + " :" + c.schemaType + " " + c.slot());
        out.add(codec.dataWords * 8 + " bytes, " + codec.pointers + " ptrs");
        return out;
    }
}
