package dev.bitcoinmp.mp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Mining;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.testing.Calculator;
import dev.bitcoinmp.testing.Mirror;
import dev.bitcoinmp.testing.Mixed;
import dev.bitcoinmp.testing.Printer;
import dev.bitcoinmp.testing.TestInit;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our schema files, our Java declarations and the capnp compiler must agree: IDs, ordinals, names, types and
 * (with the compiler) the struct layouts {@link StructLayout} computes.
 *
 * <p>Parts that need no tool: a small parser for the subset of the schema language our files use, compared
 * with the Java declarations; and the derived-ID rule (IPC-FACTS section 4) against the IDs Bitcoin Core's
 * schema files get without stating them. Parts that need Debian's {@code capnp} (skipped without it): the
 * compiler's IDs and layouts, from {@code -ocapnp} and from a decoded {@code CodeGeneratorRequest}, for our
 * schemas and for a test-only schema written at test time.
 */
class SchemaConformanceTest {

    private static final Path MAIN_SCHEMAS = Path.of("src/main/capnp");
    private static final Path TEST_SCHEMA = Path.of("src/test/capnp/test.capnp");
    private static final List<Path> MAIN_FILES = List.of(
            MAIN_SCHEMAS.resolve("mp/proxy.capnp"),
            MAIN_SCHEMAS.resolve("ipc/capnp/init.capnp"),
            MAIN_SCHEMAS.resolve("ipc/capnp/echo.capnp"),
            MAIN_SCHEMAS.resolve("ipc/capnp/mining.capnp"),
            MAIN_SCHEMAS.resolve("ipc/capnp/rpc.capnp"));
    private static final Path SCHEMA_SCHEMA = Path.of("/usr/include/capnp/schema.capnp");

    /** Schema interface name to its Java declaration. */
    private static final Map<String, Class<?>> JAVA = new LinkedHashMap<>();

    static {
        JAVA.put("ThreadMap", ThreadMap.class);
        JAVA.put("Thread", IpcThread.class);
        JAVA.put("Init", Init.class);
        JAVA.put("Echo", Echo.class);
        JAVA.put("Mining", Mining.class);
        JAVA.put("Rpc", Rpc.class);
        JAVA.put("TestInit", TestInit.class);
        JAVA.put("Calculator", Calculator.class);
        JAVA.put("Printer", Printer.class);
        JAVA.put("Mirror", Mirror.class);
    }

    /** Schema struct name to the Java record declared for it (Context is built into the IPC layer). */
    private static final Map<String, Class<? extends Record>> RECORDS = Map.of("Mixed", Mixed.class);

    private static List<Path> allFiles() {
        List<Path> files = new ArrayList<>(MAIN_FILES);
        files.add(TEST_SCHEMA);
        return files;
    }

    private static Map<String, SDecl> declarations(List<SFile> files, String kind) {
        Map<String, SDecl> out = new LinkedHashMap<>();
        for (SFile f : files) {
            for (SDecl d : f.all()) {
                if (d.kind.equals(kind) && out.put(d.qualifiedName, d) != null) fail("two declarations of " + d.qualifiedName);
            }
        }
        return out;
    }

    // ----------------------------------------------------------------------------------------------------
    // 1. Schema files against Java declarations, no tool needed.

    @Test
    void everySchemaInterfaceHasAMatchingJavaDeclaration() throws IOException {
        List<SFile> files = new ArrayList<>();
        for (Path p : allFiles()) files.add(SchemaParser.parse(p));
        Map<String, SDecl> interfaces = declarations(files, "interface");
        assertEquals(new TreeSet<>(JAVA.keySet()), new TreeSet<>(interfaces.keySet()),
                "interfaces of the schema files vs those with a Java declaration in this test's table");
        for (Map.Entry<String, Class<?>> e : JAVA.entrySet()) checkInterface(interfaces.get(e.getKey()), e.getValue());
    }

    @Test
    void recordsMatchSchemaStructs() throws IOException {
        List<SFile> files = new ArrayList<>();
        for (Path p : allFiles()) files.add(SchemaParser.parse(p));
        Map<String, SDecl> structs = declarations(files, "struct");
        assertEquals(new TreeSet<>(List.of("Context", "Mixed")), new TreeSet<>(structs.keySet()), "structs of the schema files");
        for (Map.Entry<String, Class<? extends Record>> e : RECORDS.entrySet()) checkRecord(structs.get(e.getKey()), e.getValue());
        // Context: what the IPC layer writes as every context parameter.
        SDecl context = structs.get("Context");
        assertEquals(List.of(new SField("thread", 0, "Thread"), new SField("callbackThread", 1, "Thread")), context.fields);
    }

    /** Compares one schema interface with its Java declaration, both ways. */
    private static void checkInterface(SDecl schema, Class<?> java) {
        String where = schema.qualifiedName + " (" + java.getName() + ")";
        CapnpInterface annotation = java.getAnnotation(CapnpInterface.class);
        assertNotNull(annotation, where + ": not annotated");
        assertEquals(hex(schema.id), hex(annotation.id()), where + ": interface ID");
        assertEquals(hex(schema.id), hex(InterfaceSchema.of(java).id()), where + ": InterfaceSchema.id()");
        assertEquals(schema.name, InterfaceSchema.schemaName(java), where + ": schema name");

        List<String> javaSupers = new ArrayList<>();
        for (Class<?> s : java.getInterfaces()) if (s.isAnnotationPresent(CapnpInterface.class)) javaSupers.add(InterfaceSchema.schemaName(s));
        assertEquals(schema.superclasses, javaSupers, where + ": superclasses");

        Map<Integer, Method> javaMethods = new TreeMap<>();
        for (Method m : java.getDeclaredMethods()) {
            if (m.isSynthetic()) continue;
            CapnpMethod cm = m.getAnnotation(CapnpMethod.class);
            if (cm == null) {
                // Only close() may lack an annotation: it releases the capability when the schema has no destroy.
                if (Modifier.isAbstract(m.getModifiers()) || m.isDefault()) {
                    assertEquals("close", m.getName(), where + ": Java method " + m + " has no @CapnpMethod");
                    assertTrue(schema.methods.stream().noneMatch(s -> s.name.equals("destroy")),
                            where + ": close() must be the schema's destroy, but is not annotated");
                }
                continue;
            }
            assertTrue(javaMethods.put(cm.ordinal(), m) == null, where + ": ordinal " + cm.ordinal() + " used twice");
        }
        Map<Integer, SMethod> schemaMethods = new TreeMap<>();
        for (SMethod m : schema.methods) assertTrue(schemaMethods.put(m.ordinal, m) == null, where + ": ordinal " + m.ordinal + " used twice");
        assertEquals(schemaMethods.keySet(), javaMethods.keySet(), where + ": method ordinals (schema vs Java)");

        for (SMethod sm : schemaMethods.values()) {
            Method jm = javaMethods.get(sm.ordinal);
            CapnpMethod cm = jm.getAnnotation(CapnpMethod.class);
            String mwhere = where + " method @" + sm.ordinal + " " + sm.name;
            String javaName = !cm.name().isEmpty() ? cm.name() : jm.getName().equals("close") ? "destroy" : jm.getName();
            assertEquals(sm.name, javaName, mwhere + ": name");
            List<SField> expectedParams = new ArrayList<>();
            if (cm.context()) expectedParams.add(new SField("context", 0, "Context"));
            for (Parameter p : jm.getParameters()) {
                assertTrue(p.isNamePresent(), mwhere + ": compiled without -parameters");
                expectedParams.add(new SField(p.getName(), expectedParams.size(), javaSchemaType(p.getParameterizedType(), p)));
            }
            assertEquals(sm.params, expectedParams, mwhere + ": parameters (name, position, type)");
            List<SField> expectedResults = jm.getReturnType() == void.class ? List.of()
                    : List.of(new SField(cm.result(), 0, javaSchemaType(jm.getGenericReturnType(), jm)));
            assertEquals(sm.results, expectedResults, mwhere + ": results");
        }

        // What InterfaceSchema derives (and the IPC layer uses) must state the same names and types.
        int own = 0;
        for (InterfaceSchema.MethodDescription d : InterfaceSchema.of(java).describe()) {
            if (d.interfaceId() != schema.id) continue;
            own++;
            SMethod sm = schemaMethods.get(d.ordinal());
            assertNotNull(sm, where + ": describe() has ordinal " + d.ordinal());
            String mwhere = where + " describe() @" + d.ordinal();
            assertEquals(sm.name, d.name(), mwhere + ": name");
            List<String> params = new ArrayList<>();
            for (String p : d.params()) params.add(stripSlot(p));
            List<String> expected = new ArrayList<>();
            for (SField f : sm.params) expected.add(f.name + " :" + f.type);
            assertEquals(expected, params, mwhere + ": params");
            assertEquals(sm.results.isEmpty() ? "" : sm.results.get(0).name + " :" + sm.results.get(0).type,
                    stripSlot(d.result()), mwhere + ": result");
        }
        assertEquals(schemaMethods.size(), own, where + ": describe() methods under this interface's ID");
    }

    private static void checkRecord(SDecl schema, Class<? extends Record> java) {
        String where = "struct " + schema.qualifiedName + " (" + java.getName() + ")";
        List<SField> expected = new ArrayList<>();
        for (RecordComponent c : java.getRecordComponents()) {
            expected.add(new SField(c.getName(), expected.size(), javaSchemaType(c.getGenericType(), c)));
        }
        List<SField> actual = new ArrayList<>(schema.fields);
        actual.sort((a, b) -> Integer.compare(a.ordinal, b.ordinal));
        assertEquals(expected, actual, where + ": fields (name, ordinal, type)");
        List<String> described = new ArrayList<>();
        for (String s : InterfaceSchema.describeStruct(java)) described.add(stripSlot(s));
        described.remove(described.size() - 1);
        List<String> fromSchema = new ArrayList<>();
        for (SField f : actual) fromSchema.add(f.name + " :" + f.type);
        assertEquals(fromSchema, described, where + ": describeStruct() names and types");
    }

    private static String stripSlot(String described) {
        return described.replaceFirst(" (bits\\[\\d+, \\d+\\)|ptr\\[\\d+\\])$", "");
    }

    /** The schema type a Java type stands for (this test's own statement of the mapping). */
    static String javaSchemaType(Type type, AnnotatedElement annotations) {
        boolean unsigned = annotations != null && annotations.isAnnotationPresent(Unsigned.class);
        if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
            return "List(" + javaSchemaType(p.getActualTypeArguments()[0], annotations) + ")";
        }
        if (!(type instanceof Class<?> c)) throw new AssertionError("no schema type for " + type);
        String u = unsigned ? "U" : "";
        if (c == boolean.class || c == Boolean.class) return "Bool";
        if (c == byte.class || c == Byte.class) return u + "Int8";
        if (c == short.class || c == Short.class) return u + "Int16";
        if (c == int.class || c == Integer.class) return u + "Int32";
        if (c == long.class || c == Long.class) return u + "Int64";
        if (c == float.class || c == Float.class) return "Float32";
        if (c == double.class || c == Double.class) return "Float64";
        if (c == String.class) return "Text";
        if (c == byte[].class) return "Data";
        if (c.isRecord()) return c.getSimpleName();
        CapnpInterface ci = c.getAnnotation(CapnpInterface.class);
        if (ci != null) return ci.name().isEmpty() ? c.getSimpleName() : ci.name();
        throw new AssertionError("no schema type for " + c);
    }

    // ----------------------------------------------------------------------------------------------------
    // 2. The derived-ID rule, no tool needed.

    /** First 8 bytes of MD5(parent ID little-endian ++ UTF-8 name), big-endian, top bit set. */
    static long childId(long parent, String name) {
        MessageDigest md5 = md5();
        md5.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(parent).array());
        md5.update(name.getBytes(UTF_8));
        return ByteBuffer.wrap(md5.digest()).order(ByteOrder.BIG_ENDIAN).getLong() | Long.MIN_VALUE;
    }

    /** First 8 bytes of MD5(interface ID LE8 ++ ordinal LE2 ++ 0 params / 1 results), big-endian, top bit set. */
    static long methodStructId(long interfaceId, int ordinal, boolean results) {
        MessageDigest md5 = md5();
        md5.update(ByteBuffer.allocate(11).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(interfaceId).putShort((short) ordinal).put((byte) (results ? 1 : 0)).array());
        return ByteBuffer.wrap(md5.digest()).order(ByteOrder.BIG_ENDIAN).getLong() | Long.MIN_VALUE;
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void derivedIdRuleReproducesCoreIds() {
        // Core's schema files state only their file IDs; these are what the compiler gives their declarations.
        assertEquals(hex(0xd36b89640dc94399L), hex(childId(0x888b4f7f51e691f7L, "Echo")));
        assertEquals(hex(0x8838c700ba5cba65L), hex(childId(0xf2c5cfa319406aa6L, "Init")));
        assertEquals(hex(0xee5e37179ad9dc9dL), hex(childId(0xcc316e3f71a040fbL, "ThreadMap")));
        assertEquals(hex(0x81c1e2600d0b56c5L), hex(childId(0xcc316e3f71a040fbL, "Thread")));
        assertEquals(hex(0x9c44e6645d0b22c6L), hex(childId(0xcc316e3f71a040fbL, "Context")));
        assertEquals(hex(0xacb1d37f0a713129L), hex(childId(0x9c3505dc45e146acL, "Rpc")));
        assertEquals(hex(0xf9c68436df3af39eL), hex(childId(0xc77d03df6a41b505L, "Mining")));
        // Echo.destroy's and Echo.echo's param/result structs, as capnp 0.9.2 printed them (decimal).
        assertEquals(Long.parseUnsignedLong("13361950625955183493"), methodStructId(0xd36b89640dc94399L, 0, false));
        assertEquals(Long.parseUnsignedLong("12988055678995565311"), methodStructId(0xd36b89640dc94399L, 0, true));
        assertEquals(Long.parseUnsignedLong("14319335781742460174"), methodStructId(0xd36b89640dc94399L, 1, false));
        assertEquals(Long.parseUnsignedLong("11343371028821381937"), methodStructId(0xd36b89640dc94399L, 1, true));
    }

    @Test
    void explicitIdsOfMainSchemasAreTheOnesCoreGetsImplicitly() throws IOException {
        for (Path p : MAIN_FILES) {
            SFile f = SchemaParser.parse(p);
            for (SDecl d : f.decls) {
                assertTrue(d.explicitId, p + ": " + d.name + " should state its ID");
                assertEquals(hex(childId(f.id, d.name)), hex(d.id), p + ": " + d.name + " is not the child ID Core's file gets");
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------
    // 3. Against the capnp compiler.

    @Test
    void compilerPrintsOurIdsAndMixedLayout() throws IOException, InterruptedException {
        assumeCapnp();
        for (Path p : allFiles()) {
            SFile ours = SchemaParser.parse(p);
            Compiled compiled = Compiled.parse(run(null, "capnp", "compile", "-ocapnp", "-I", MAIN_SCHEMAS.toString(), p.toString()));
            assertEquals(hex(ours.id), hex(compiled.fileId), p + ": file ID");
            Map<String, String> expected = new TreeMap<>();
            for (SDecl d : ours.all()) expected.put(d.qualifiedName, hex(d.id));
            Map<String, String> actual = new TreeMap<>();
            compiled.ids.forEach((k, v) -> actual.put(k, hex(v)));
            assertEquals(expected, actual, p + ": IDs the compiler prints vs our parse of the file");
            for (Map.Entry<String, Long> e : compiled.ids.entrySet()) {
                Class<?> java = JAVA.get(e.getKey());
                if (java != null) assertEquals(hex(e.getValue()), hex(java.getAnnotation(CapnpInterface.class).id()), "Java ID of " + e.getKey());
            }
            if (p.equals(TEST_SCHEMA)) {
                assertEquals(compiled.layouts.get("Mixed"), InterfaceSchema.describeStruct(Mixed.class),
                        "Mixed: compiler's layout (-ocapnp) vs InterfaceSchema.describeStruct");
            }
        }
    }

    @Test
    void compilerParamAndResultStructsMatchDerivedIdsAndLayouts() throws IOException, InterruptedException {
        assumeCapnp();
        Map<Long, Map<String, Object>> nodes = new LinkedHashMap<>();
        for (Path p : allFiles()) nodes.putAll(decodedNodes(p));
        int checked = 0;
        for (Class<?> java : JAVA.values()) checked += checkMethodsAgainstCompiler(java, nodes);
        assertEquals(2 + 1 + 5 + 2 + 0 + 1 + (1 + 5) + 4 + 2 + 1, checked, "methods compared (TestInit includes Init's)");
        Map<String, Object> mixed = nodes.get(0xa1a84f93e645507eL);
        assertNotNull(mixed, "Mixed node");
        assertEquals(structDescription(mixed, nodes), InterfaceSchema.describeStruct(Mixed.class),
                "Mixed: compiler's layout (CodeGeneratorRequest) vs InterfaceSchema.describeStruct");
    }

    /** Checks every method InterfaceSchema derives for {@code java}; returns how many. */
    private static int checkMethodsAgainstCompiler(Class<?> java, Map<Long, Map<String, Object>> nodes) {
        InterfaceSchema schema = InterfaceSchema.of(java);
        List<InterfaceSchema.MethodDescription> methods = schema.describe();
        for (InterfaceSchema.MethodDescription d : methods) {
            String where = java.getSimpleName() + " @" + hex(d.interfaceId()) + "." + d.ordinal() + " " + d.name();
            Map<String, Object> iface = nodes.get(d.interfaceId());
            assertNotNull(iface, where + ": compiler has no interface node");
            List<Object> compiledMethods = list(struct(iface, "interface"), "methods");
            assertTrue(d.ordinal() < compiledMethods.size(), where + ": compiler has no such ordinal");
            Map<String, Object> m = asStruct(compiledMethods.get(d.ordinal()));
            assertEquals(string(m, "name"), d.name(), where + ": name");
            long paramId = id(m, "paramStructType");
            long resultId = id(m, "resultStructType");
            assertEquals(hex(methodStructId(d.interfaceId(), d.ordinal(), false)), hex(paramId), where + ": $Params ID vs derived rule");
            assertEquals(hex(methodStructId(d.interfaceId(), d.ordinal(), true)), hex(resultId), where + ": $Results ID vs derived rule");
            Map<String, Object> params = nodes.get(paramId);
            Map<String, Object> results = nodes.get(resultId);
            assertNotNull(params, where + ": no $Params node");
            assertNotNull(results, where + ": no $Results node");

            List<String> compiledParams = structDescription(params, nodes);
            List<String> compiledResults = structDescription(results, nodes);
            assertEquals(compiledParams.subList(0, compiledParams.size() - 1), d.params(), where + ": params (name :Type slot)");
            assertEquals(compiledResults.subList(0, compiledResults.size() - 1),
                    d.result().isEmpty() ? List.of() : List.of(d.result()), where + ": results (name :Type slot)");

            MethodSchema ms = schema.method(d.interfaceId(), d.ordinal());
            assertNotNull(ms, where + ": InterfaceSchema.method(id, ordinal)");
            Map<String, Object> ps = struct(params, "struct");
            Map<String, Object> rs = struct(results, "struct");
            assertEquals(integer(ps, "dataWordCount") + "/" + integer(ps, "pointerCount"),
                    ms.paramWords + "/" + ms.paramPointers, where + ": params data words/pointers");
            assertEquals(integer(rs, "dataWordCount") + "/" + integer(rs, "pointerCount"),
                    ms.resultWords + "/" + ms.resultPointers, where + ": results data words/pointers");
            if (ms.context) assertEquals(0, ms.contextPointer, where + ": context pointer");
        }
        return methods.size();
    }

    /** A struct node's fields as describeStruct() states them, in code order, then its size. */
    private static List<String> structDescription(Map<String, Object> node, Map<Long, Map<String, Object>> nodes) {
        Map<String, Object> s = struct(node, "struct");
        assertEquals("false", s.get("isGroup"));
        assertEquals("0", s.get("discriminantCount"), "unions are not used");
        List<Map<String, Object>> fields = new ArrayList<>();
        for (Object f : list(s, "fields")) fields.add(asStruct(f));
        fields.sort((a, b) -> Integer.compare(integer(a, "codeOrder"), integer(b, "codeOrder")));
        List<String> out = new ArrayList<>();
        for (Map<String, Object> f : fields) {
            Map<String, Object> slot = struct(f, "slot");
            Map<String, Object> type = struct(slot, "type");
            int offset = integer(slot, "offset");
            int bits = dataBits(type);
            String where = bits == 0 ? "ptr[" + offset + "]" : "bits[" + offset * bits + ", " + (offset + 1) * bits + ")";
            out.add(string(f, "name") + " :" + typeName(type, nodes) + " " + where);
        }
        out.add(integer(s, "dataWordCount") * 8 + " bytes, " + integer(s, "pointerCount") + " ptrs");
        return out;
    }

    private static final Map<String, Integer> DATA_BITS = Map.ofEntries(
            Map.entry("bool", 1), Map.entry("int8", 8), Map.entry("uint8", 8), Map.entry("int16", 16),
            Map.entry("uint16", 16), Map.entry("enum", 16), Map.entry("int32", 32), Map.entry("uint32", 32),
            Map.entry("float32", 32), Map.entry("int64", 64), Map.entry("uint64", 64), Map.entry("float64", 64));

    /** Size in bits of a data type; 0 for pointer types. */
    private static int dataBits(Map<String, Object> type) {
        String which = type.keySet().iterator().next();
        if (which.equals("void")) throw new AssertionError("Void fields are not used");
        return DATA_BITS.getOrDefault(which, 0);
    }

    private static String typeName(Map<String, Object> type, Map<Long, Map<String, Object>> nodes) {
        assertEquals(1, type.size(), "a Type has one member set: " + type);
        String which = type.keySet().iterator().next();
        return switch (which) {
            case "bool" -> "Bool";
            case "int8", "int16", "int32", "int64" -> "Int" + which.substring(3);
            case "uint8", "uint16", "uint32", "uint64" -> "UInt" + which.substring(4);
            case "float32" -> "Float32";
            case "float64" -> "Float64";
            case "text" -> "Text";
            case "data" -> "Data";
            case "list" -> "List(" + typeName(struct(struct(type, "list"), "elementType"), nodes) + ")";
            case "struct", "interface", "enum" -> {
                long typeId = id(struct(type, which), "typeId");
                Map<String, Object> target = nodes.get(typeId);
                assertNotNull(target, "no node for type " + hex(typeId));
                String name = string(target, "displayName");
                name = name.substring(name.indexOf(':') + 1);
                yield name.substring(name.lastIndexOf('.') + 1);
            }
            default -> throw new AssertionError("unexpected type " + type);
        };
    }

    // ----------------------------------------------------------------------------------------------------
    // 3b. Test-only records and methods, with a test-only schema compiled at test time.

    /** File ID of the test-only schema (from {@code capnp id}); its declarations take derived IDs. */
    static final long EXTRA_FILE_ID = 0xa2391766dd8373c1L;

    public record Tricky1(boolean a, long b, boolean c, byte d, int e, short f, boolean g, float h, double i, String j) {}

    public record Tricky2(boolean a, boolean b, boolean c, short d, byte e) {}

    public record Tricky3(byte a, long b, byte c, short d, boolean e, int f, Tricky2 g, List<Long> h, @Unsigned short i,
                          double j, boolean k, byte[] l, List<String> m, float n, @Unsigned byte o, boolean p, IpcThread q,
                          List<Tricky2> r, @Unsigned List<Integer> s, @Unsigned long t, List<Boolean> u, short v,
                          List<byte[]> w) {}

    public record Tricky4(short a, boolean b, byte c, boolean d, int e, boolean f, byte g, boolean h, short i, boolean j,
                          boolean k, boolean l, boolean m, boolean n, boolean o, boolean p, long q, byte r, float s,
                          boolean t, @Unsigned int u, byte v) {}

    public record Tricky5(String a, byte[] b, boolean c) {}

    /** Derived: child "Layouts" of {@link #EXTRA_FILE_ID} (checked against the compiler below). */
    @CapnpInterface(id = 0xe77779b07c476a37L)
    public interface Layouts extends AutoCloseable {
        @CapnpMethod(ordinal = 0)
        @Override
        void close();

        @CapnpMethod(ordinal = 1)
        double mixedArgs(boolean a, long b, String c, byte d, boolean e, float f, byte[] g, @Unsigned short h, int i, boolean j);

        @CapnpMethod(ordinal = 2, context = false, result = "flagged")
        boolean noContext(byte x, int y, IpcThread t, short z);

        @CapnpMethod(ordinal = 3)
        List<String> records(Tricky1 one, List<Tricky2> many, Tricky3 three, boolean flag);

        @CapnpMethod(ordinal = 4, context = false)
        void nothing();

        @CapnpMethod(ordinal = 5)
        @Unsigned long unsignedResult(@Unsigned byte b, Tricky4 four, Tricky5 five);

        @CapnpMethod(ordinal = 6, context = false)
        Tricky1 recordResult(List<Integer> values, boolean first, long second, boolean third);
    }

    private static final Map<String, Class<? extends Record>> EXTRA_RECORDS = Map.of(
            "Tricky1", Tricky1.class, "Tricky2", Tricky2.class, "Tricky3", Tricky3.class,
            "Tricky4", Tricky4.class, "Tricky5", Tricky5.class);

    private static final String EXTRA_SCHEMA = """
            # Written by SchemaConformanceTest: only the file states an ID, the compiler derives the others.
            @0xa2391766dd8373c1;

            using Proxy = import "/mp/proxy.capnp";

            struct Tricky1 {
              a @0 :Bool; b @1 :Int64; c @2 :Bool; d @3 :Int8; e @4 :Int32;
              f @5 :Int16; g @6 :Bool; h @7 :Float32; i @8 :Float64; j @9 :Text;
            }

            struct Tricky2 { a @0 :Bool; b @1 :Bool; c @2 :Bool; d @3 :Int16; e @4 :Int8; }

            struct Tricky3 {
              a @0 :Int8; b @1 :Int64; c @2 :Int8; d @3 :Int16; e @4 :Bool; f @5 :Int32; g @6 :Tricky2;
              h @7 :List(Int64); i @8 :UInt16; j @9 :Float64; k @10 :Bool; l @11 :Data; m @12 :List(Text);
              n @13 :Float32; o @14 :UInt8; p @15 :Bool; q @16 :Proxy.Thread; r @17 :List(Tricky2);
              s @18 :List(UInt32); t @19 :UInt64; u @20 :List(Bool); v @21 :Int16; w @22 :List(Data);
            }

            struct Tricky4 {
              a @0 :Int16; b @1 :Bool; c @2 :Int8; d @3 :Bool; e @4 :Int32; f @5 :Bool; g @6 :Int8; h @7 :Bool;
              i @8 :Int16; j @9 :Bool; k @10 :Bool; l @11 :Bool; m @12 :Bool; n @13 :Bool; o @14 :Bool;
              p @15 :Bool; q @16 :Int64; r @17 :Int8; s @18 :Float32; t @19 :Bool; u @20 :UInt32; v @21 :Int8;
            }

            struct Tricky5 { a @0 :Text; b @1 :Data; c @2 :Bool; }

            # Nested declarations take the child ID of their enclosing declaration.
            struct Outer {
              struct Nested { v @0 :UInt64; }
              interface NestedInterface {}
              n @0 :Nested;
            }

            interface Layouts {
              destroy @0 (context :Proxy.Context) -> ();
              mixedArgs @1 (context :Proxy.Context, a :Bool, b :Int64, c :Text, d :Int8, e :Bool, f :Float32,
                            g :Data, h :UInt16, i :Int32, j :Bool) -> (result :Float64);
              noContext @2 (x :Int8, y :Int32, t :Proxy.Thread, z :Int16) -> (flagged :Bool);
              records @3 (context :Proxy.Context, one :Tricky1, many :List(Tricky2), three :Tricky3, flag :Bool)
                  -> (result :List(Text));
              nothing @4 () -> ();
              unsignedResult @5 (context :Proxy.Context, b :UInt8, four :Tricky4, five :Tricky5) -> (result :UInt64);
              recordResult @6 (values :List(Int32), first :Bool, second :Int64, third :Bool) -> (result :Tricky1);
            }
            """;

    @Test
    void extraRecordsAndMethodsMatchTheirSchemaWithoutTool(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("extra.capnp"), EXTRA_SCHEMA);
        SFile extra = SchemaParser.parse(file);
        assertEquals(hex(EXTRA_FILE_ID), hex(extra.id));
        Map<String, SDecl> interfaces = declarations(List.of(extra), "interface");
        Map<String, SDecl> structs = declarations(List.of(extra), "struct");
        checkInterface(interfaces.get("Layouts"), Layouts.class);
        for (Map.Entry<String, Class<? extends Record>> e : EXTRA_RECORDS.entrySet()) checkRecord(structs.get(e.getKey()), e.getValue());
        assertEquals(hex(childId(childId(EXTRA_FILE_ID, "Outer"), "Nested")), hex(structs.get("Outer.Nested").id));
    }

    @Test
    void extraRecordsAndMethodsMatchTheCompiler(@TempDir Path dir) throws IOException, InterruptedException {
        assumeCapnp();
        Path file = Files.writeString(dir.resolve("extra.capnp"), EXTRA_SCHEMA);
        SFile extra = SchemaParser.parse(file);

        // IDs: every declaration without an ID gets the derived one, nested ones included.
        Compiled compiled = Compiled.parse(run(null, "capnp", "compile", "-ocapnp", "-I", MAIN_SCHEMAS.toString(), file.toString()));
        assertEquals(hex(EXTRA_FILE_ID), hex(compiled.fileId));
        Map<String, String> expected = new TreeMap<>();
        for (SDecl d : extra.all()) expected.put(d.qualifiedName, hex(d.id));
        Map<String, String> actual = new TreeMap<>();
        compiled.ids.forEach((k, v) -> actual.put(k, hex(v)));
        assertEquals(expected, actual, "derived IDs vs the compiler's");
        assertEquals(9, actual.size(), "Tricky1..5, Outer, Outer.Nested, Outer.NestedInterface, Layouts");

        // Record layouts, from -ocapnp and from the CodeGeneratorRequest.
        Map<Long, Map<String, Object>> nodes = new LinkedHashMap<>(decodedNodes(file));
        for (Path p : MAIN_FILES) nodes.putAll(decodedNodes(p));
        for (Map.Entry<String, Class<? extends Record>> e : EXTRA_RECORDS.entrySet()) {
            List<String> ours = InterfaceSchema.describeStruct(e.getValue());
            assertEquals(compiled.layouts.get(e.getKey()), ours, e.getKey() + ": -ocapnp layout vs describeStruct");
            assertEquals(structDescription(nodes.get(compiled.ids.get(e.getKey())), nodes), ours,
                    e.getKey() + ": CodeGeneratorRequest layout vs describeStruct");
        }
        // Method param/result structs.
        assertEquals(7, checkMethodsAgainstCompiler(Layouts.class, nodes));
    }

    /** Random field sequences through {@link StructLayout}, against the compiler. */
    @Test
    void structLayoutMatchesCompilerOnRandomStructs(@TempDir Path dir) throws IOException, InterruptedException {
        assumeCapnp();
        String[] types = {"Bool", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
            "Float32", "Float64", "Text", "Data", "List(Int32)"};
        int[] lg = {0, 3, 3, 4, 4, 5, 5, 6, 6, 5, 6, -1, -1, -1};
        Random random = new Random(20260701);
        StringBuilder schema = new StringBuilder("@0xf8b2169aed7f08fe;\n");
        Map<String, List<String>> expected = new TreeMap<>();
        for (int s = 0; s < 60; s++) {
            String name = "Random" + s;
            schema.append("struct ").append(name).append(" {\n");
            StructLayout layout = new StructLayout();
            List<String> fields = new ArrayList<>();
            int count = 1 + random.nextInt(s < 30 ? 12 : 40);
            // Half of the structs favour small fields, where the holes matter most.
            for (int f = 0; f < count; f++) {
                int t = s % 2 == 0 ? random.nextInt(types.length) : random.nextInt(100) < 70 ? random.nextInt(5) : random.nextInt(types.length);
                String field = "f" + f;
                schema.append("  ").append(field).append(" @").append(f).append(" :").append(types[t]).append(";\n");
                if (lg[t] < 0) {
                    fields.add(field + " :" + types[t] + " ptr[" + layout.addPointer() + "]");
                } else {
                    int bits = 1 << lg[t];
                    int offset = layout.addData(lg[t]);
                    fields.add(field + " :" + types[t] + " bits[" + offset * bits + ", " + (offset + 1) * bits + ")");
                }
            }
            fields.add(layout.dataWords() * 8 + " bytes, " + layout.pointers() + " ptrs");
            expected.put(name, fields);
            schema.append("}\n");
        }
        Path file = Files.writeString(dir.resolve("random.capnp"), schema.toString());
        Compiled compiled = Compiled.parse(run(null, "capnp", "compile", "-ocapnp", file.toString()));
        assertEquals(expected, new TreeMap<>(compiled.layouts), "StructLayout vs the compiler on random structs");
    }

    // ----------------------------------------------------------------------------------------------------
    // Running the compiler.

    private static void assumeCapnp() {
        boolean found = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "capnp"))) found = true;
        }
        if (!found) Assumptions.assumeTrue(false, "capnp tool not installed: apt-get install capnproto — skipping the comparison with the compiler");
        Assumptions.assumeTrue(Files.isReadable(SCHEMA_SCHEMA), "capnp's schema.capnp not at " + SCHEMA_SCHEMA);
    }

    private static Map<Long, Map<String, Object>> decodedNodes(Path file) throws IOException, InterruptedException {
        byte[] request = runBytes(null, "capnp", "compile", "-o-", "-I", MAIN_SCHEMAS.toString(), file.toString());
        String text = run(request, "capnp", "decode", SCHEMA_SCHEMA.toString(), "CodeGeneratorRequest");
        Map<String, Object> root = asStruct(TextFormat.parse(text));
        Map<Long, Map<String, Object>> nodes = new LinkedHashMap<>();
        for (Object n : list(root, "nodes")) {
            Map<String, Object> node = asStruct(n);
            nodes.put(id(node, "id"), node);
        }
        return nodes;
    }

    private static String run(byte[] stdin, String... command) throws IOException, InterruptedException {
        return new String(runBytes(stdin, command), UTF_8);
    }

    private static byte[] runBytes(byte[] stdin, String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).start();
        // Own threads (not the common pool, which may have a single worker), so that stdin, stdout and stderr
        // never wait for each other.
        CompletableFuture<byte[]> out = drain(process.getInputStream());
        CompletableFuture<byte[]> err = drain(process.getErrorStream());
        Thread.ofPlatform().daemon().start(() -> {
            try (OutputStream os = process.getOutputStream()) {
                if (stdin != null) os.write(stdin);
            } catch (IOException e) {
                // the process ended early; its exit status tells why
            }
        });
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("timeout: " + String.join(" ", command));
        }
        String errors = new String(err.join(), UTF_8);
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed: " + errors);
        return out.join();
    }

    private static CompletableFuture<byte[]> drain(InputStream in) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                result.complete(readAll(in));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What {@code capnp compile -ocapnp} prints: file ID, declaration IDs by qualified name, struct layouts. */
    record Compiled(long fileId, Map<String, Long> ids, Map<String, List<String>> layouts) {
        private static final Pattern FILE_ID = Pattern.compile("^@0x([0-9a-f]+);\\s*$");
        private static final Pattern DECL = Pattern.compile(
                "^\\s*(struct|interface|enum) (\\w+) @0x([0-9a-f]+)\\b.*?\\{\\s*(?:#\\s*(\\d+ bytes, \\d+ ptrs)\\s*)?$");
        private static final Pattern FIELD = Pattern.compile(
                "^\\s*(\\w+) @(\\d+) :(.+);\\s*#\\s*(bits\\[\\d+, \\d+\\)|ptr\\[\\d+\\])\\s*$");
        private static final Pattern CLOSE = Pattern.compile("^\\s*}\\s*$");

        static Compiled parse(String text) {
            Long fileId = null;
            Map<String, Long> ids = new LinkedHashMap<>();
            Map<String, List<String>> layouts = new LinkedHashMap<>();
            Map<String, String> sizes = new LinkedHashMap<>();
            List<String> scope = new ArrayList<>();
            for (String line : text.split("\n")) {
                Matcher m;
                if ((m = FILE_ID.matcher(line)).matches()) {
                    assertTrue(fileId == null, "two file IDs");
                    fileId = Long.parseUnsignedLong(m.group(1), 16);
                } else if ((m = DECL.matcher(line)).matches()) {
                    scope.add(m.group(2));
                    String name = String.join(".", scope);
                    ids.put(name, Long.parseUnsignedLong(m.group(3), 16));
                    if (m.group(1).equals("struct")) {
                        assertNotNull(m.group(4), "no size for struct " + name + ": " + line);
                        layouts.put(name, new ArrayList<>());
                        sizes.put(name, m.group(4));
                    }
                } else if (CLOSE.matcher(line).matches()) {
                    assertFalse(scope.isEmpty(), "unbalanced }");
                    String name = String.join(".", scope);
                    scope.remove(scope.size() - 1);
                    List<String> layout = layouts.get(name);
                    if (layout != null) layout.add(sizes.get(name));   // the size goes last, as describeStruct puts it
                } else if ((m = FIELD.matcher(line)).matches()) {
                    List<String> layout = layouts.get(String.join(".", scope));
                    assertNotNull(layout, "field outside a struct: " + line);
                    String type = m.group(3).replaceAll("import \"[^\"]*\"\\.", "");
                    layout.add(m.group(1) + " :" + type + " " + m.group(4));
                } else if (line.startsWith("#") || line.isBlank()) {
                    continue;
                } else if (line.matches("^\\s*\\w+ @\\d+ \\(.*\\) -> \\(.*\\);\\s*$")) {
                    continue;   // a method
                } else {
                    fail("unexpected -ocapnp line: " + line);
                }
            }
            assertNotNull(fileId, "no file ID in -ocapnp output");
            assertTrue(scope.isEmpty(), "unbalanced {");
            return new Compiled(fileId, ids, layouts);
        }
    }

    // ----------------------------------------------------------------------------------------------------
    // Capnp text format (capnp decode's output): structs as maps, lists, and everything else as text.

    static final class TextFormat {
        private final String s;
        private int pos;

        private TextFormat(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            TextFormat p = new TextFormat(text);
            Object v = p.value();
            p.skipSpace();
            if (p.pos != p.s.length()) throw new AssertionError("trailing text at " + p.pos);
            return v;
        }

        private void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
        }

        private char peek() {
            skipSpace();
            if (pos >= s.length()) throw new AssertionError("unexpected end of text");
            return s.charAt(pos);
        }

        private void expect(char c) {
            if (peek() != c) throw new AssertionError("expected '" + c + "' at " + pos + ": " + context());
            pos++;
        }

        private String context() {
            return s.substring(pos, Math.min(s.length(), pos + 60));
        }

        private Object value() {
            char c = peek();
            if (c == '(') {
                pos++;
                Map<String, Object> struct = new LinkedHashMap<>();
                if (peek() == ')') {
                    pos++;
                    return struct;
                }
                while (true) {
                    String name = word();
                    expect('=');
                    struct.put(name, value());
                    if (peek() == ',') {
                        pos++;
                        continue;
                    }
                    expect(')');
                    return struct;
                }
            }
            if (c == '[') {
                pos++;
                List<Object> list = new ArrayList<>();
                if (peek() == ']') {
                    pos++;
                    return list;
                }
                while (true) {
                    list.add(value());
                    if (peek() == ',') {
                        pos++;
                        continue;
                    }
                    expect(']');
                    return list;
                }
            }
            if (c == '"') return string();
            if (c == '<') {
                int end = s.indexOf('>', pos);
                String v = s.substring(pos, end + 1);
                pos = end + 1;
                return v;
            }
            return word();
        }

        private String word() {
            skipSpace();
            int start = pos;
            while (pos < s.length() && "()[],=\"".indexOf(s.charAt(pos)) < 0 && !Character.isWhitespace(s.charAt(pos))) pos++;
            if (start == pos) throw new AssertionError("expected a word at " + pos + ": " + context());
            return s.substring(start, pos);
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = s.charAt(pos++);
                if (c == '"') return out.toString();
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case 'x' -> {
                        out.append((char) Integer.parseInt(s.substring(pos, pos + 2), 16));
                        pos += 2;
                    }
                    default -> out.append(e);
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asStruct(Object o) {
        if (!(o instanceof Map)) throw new AssertionError("not a struct: " + o);
        return (Map<String, Object>) o;
    }

    private static Map<String, Object> struct(Map<String, Object> m, String field) {
        Object v = m.get(field);
        assertNotNull(v, "no field " + field + " in " + m.keySet());
        return asStruct(v);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Map<String, Object> m, String field) {
        Object v = m.get(field);
        if (v == null) return List.of();   // empty lists are left out of the text
        if (!(v instanceof List)) throw new AssertionError(field + " is not a list");
        return (List<Object>) v;
    }

    private static String string(Map<String, Object> m, String field) {
        Object v = m.get(field);
        if (!(v instanceof String str)) throw new AssertionError("no text field " + field + " in " + m.keySet());
        return str;
    }

    private static long id(Map<String, Object> m, String field) {
        return Long.parseUnsignedLong(string(m, field));
    }

    private static int integer(Map<String, Object> m, String field) {
        return Integer.parseInt(string(m, field));
    }

    static String hex(long id) {
        return String.format("0x%016x", id);
    }

    // ----------------------------------------------------------------------------------------------------
    // Our schema files: the subset of the language they use.

    /** A field or parameter; {@code type} with import aliases removed ({@code Proxy.Context} is {@code Context}). */
    record SField(String name, int ordinal, String type) {}

    record SMethod(String name, int ordinal, List<SField> params, List<SField> results) {}

    static final class SDecl {
        final String kind;
        final String name;
        final String qualifiedName;
        final long id;
        final boolean explicitId;
        final List<String> superclasses = new ArrayList<>();
        final List<SMethod> methods = new ArrayList<>();
        final List<SField> fields = new ArrayList<>();
        final List<SDecl> nested = new ArrayList<>();

        SDecl(String kind, String name, String qualifiedName, long id, boolean explicitId) {
            this.kind = kind;
            this.name = name;
            this.qualifiedName = qualifiedName;
            this.id = id;
            this.explicitId = explicitId;
        }

        void collect(List<SDecl> out) {
            out.add(this);
            for (SDecl d : nested) d.collect(out);
        }
    }

    record SFile(Path path, long id, Map<String, String> imports, List<SDecl> decls) {
        List<SDecl> all() {
            List<SDecl> out = new ArrayList<>();
            for (SDecl d : decls) d.collect(out);
            return out;
        }
    }

    static final class SchemaParser {
        private static final Pattern TOKEN = Pattern.compile(
                "\\s+|#[^\\n]*|(\"(?:[^\"\\\\]|\\\\.)*\")|(0x[0-9a-fA-F]+|\\d+)|([A-Za-z_][A-Za-z0-9_]*)|(->|[@(){}:;,=.])");

        private final List<String> tokens = new ArrayList<>();
        private final Path path;
        private int pos;
        private final Map<String, String> imports = new LinkedHashMap<>();

        private SchemaParser(Path path, String text) {
            this.path = path;
            Matcher m = TOKEN.matcher(text);
            int at = 0;
            while (at < text.length()) {
                if (!m.find(at) || m.start() != at) {
                    throw new AssertionError(path + ": unexpected text: " + text.substring(at, Math.min(text.length(), at + 40)));
                }
                for (int g = 1; g <= 4; g++) if (m.group(g) != null) tokens.add(m.group(g));
                at = m.end();
            }
        }

        static SFile parse(Path path) throws IOException {
            return new SchemaParser(path, Files.readString(path)).file();
        }

        private String peek() {
            return pos < tokens.size() ? tokens.get(pos) : "<end>";
        }

        private String next() {
            if (pos >= tokens.size()) throw new AssertionError(path + ": unexpected end");
            return tokens.get(pos++);
        }

        private void expect(String t) {
            String got = next();
            if (!got.equals(t)) throw new AssertionError(path + ": expected " + t + " but got " + got + " (token " + (pos - 1) + ")");
        }

        private boolean accept(String t) {
            if (!peek().equals(t)) return false;
            pos++;
            return true;
        }

        private String identifier() {
            String t = next();
            if (!t.matches("[A-Za-z_]\\w*")) throw new AssertionError(path + ": expected a name but got " + t);
            return t;
        }

        private long number() {
            String t = next();
            if (t.startsWith("0x")) return Long.parseUnsignedLong(t.substring(2), 16);
            if (!t.matches("\\d+")) throw new AssertionError(path + ": expected a number but got " + t);
            return Long.parseLong(t);
        }

        private SFile file() {
            Long fileId = null;
            List<SDecl> decls = new ArrayList<>();
            while (pos < tokens.size()) {
                if (accept("@")) {
                    if (fileId != null) throw new AssertionError(path + ": two file IDs");
                    fileId = number();
                    expect(";");
                } else if (accept("using")) {
                    String alias = identifier();
                    expect("=");
                    expect("import");
                    String target = next();
                    if (!target.startsWith("\"")) throw new AssertionError(path + ": import of " + target);
                    expect(";");
                    imports.put(alias, target.substring(1, target.length() - 1));
                } else if (peek().equals("interface") || peek().equals("struct")) {
                    if (fileId == null) throw new AssertionError(path + ": declaration before the file ID");
                    decls.add(declaration(next(), fileId, ""));
                } else {
                    throw new AssertionError(path + ": unexpected " + peek());
                }
            }
            if (fileId == null) throw new AssertionError(path + ": no file ID");
            return new SFile(path, fileId, imports, decls);
        }

        private SDecl declaration(String kind, long parentId, String scope) {
            String name = identifier();
            boolean explicit = accept("@");
            long id = explicit ? number() : childId(parentId, name);
            SDecl decl = new SDecl(kind, name, scope.isEmpty() ? name : scope + "." + name, id, explicit);
            if (kind.equals("interface") && accept("extends")) {
                expect("(");
                do decl.superclasses.add(type()); while (accept(","));
                expect(")");
            }
            expect("{");
            while (!accept("}")) {
                if (peek().equals("interface") || peek().equals("struct")) {
                    decl.nested.add(declaration(next(), id, decl.qualifiedName));
                    continue;
                }
                String member = identifier();
                expect("@");
                int ordinal = (int) number();
                if (kind.equals("struct")) {
                    expect(":");
                    decl.fields.add(new SField(member, ordinal, type()));
                } else {
                    List<SField> params = fieldList();
                    List<SField> results = accept("->") ? fieldList() : List.of();
                    decl.methods.add(new SMethod(member, ordinal, params, results));
                }
                expect(";");
            }
            return decl;
        }

        private List<SField> fieldList() {
            List<SField> out = new ArrayList<>();
            expect("(");
            if (accept(")")) return out;
            do {
                String name = identifier();
                expect(":");
                out.add(new SField(name, out.size(), type()));
            } while (accept(","));
            expect(")");
            return out;
        }

        /** A type name, with the import alias removed, and generic arguments: {@code List(Int32)}. */
        private String type() {
            List<String> parts = new ArrayList<>();
            parts.add(identifier());
            while (accept(".")) parts.add(identifier());
            if (parts.size() > 1 && imports.containsKey(parts.get(0))) parts.remove(0);
            StringBuilder out = new StringBuilder(String.join(".", parts));
            if (accept("(")) {
                List<String> args = new ArrayList<>();
                do args.add(type()); while (accept(","));
                expect(")");
                out.append('(').append(String.join(", ", args)).append(')');
            }
            return out.toString();
        }
    }

    @Test
    void schemaParserUnderstandsTheSubset() {
        SchemaParser p = new SchemaParser(Path.of("inline"), """
                @0xa2391766dd8373c1; # comment
                using P = import "/mp/proxy.capnp";
                interface A extends(P.Base) { # comment "with quotes"
                  m @0 (context :P.Context, x :List(P.Thread)) -> (result :UInt32);
                  n @1 ();
                }
                struct B @0x8000000000000001 { x @0 :Bool; }
                """);
        SFile f = p.file();
        assertEquals(Map.of("P", "/mp/proxy.capnp"), f.imports());
        SDecl a = f.decls().get(0);
        assertEquals(List.of("Base"), a.superclasses);
        assertEquals(hex(childId(0xa2391766dd8373c1L, "A")), hex(a.id));
        assertEquals(new SMethod("m", 0, List.of(new SField("context", 0, "Context"), new SField("x", 1, "List(Thread)")),
                List.of(new SField("result", 0, "UInt32"))), a.methods.get(0));
        assertEquals(new SMethod("n", 1, List.of(), List.of()), a.methods.get(1));
        assertEquals(hex(0x8000000000000001L), hex(f.decls().get(1).id));
        assertEquals(Arrays.asList(new SField("x", 0, "Bool")), f.decls().get(1).fields);
    }
}
