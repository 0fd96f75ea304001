package dev.bitcoinmp.mp;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The values of {@link CapnpInterface} and {@link CapnpMethod} on a Java interface, and where {@link Unsigned}
 * marks a method's result or parameters.
 *
 * <p>Reflection gives these values, but it materializes every annotation as a dynamic proxy, and generating
 * those proxy classes is one of the larger costs of a spawned child's start that the AOT cache cannot take
 * away. So the build reads them from the class files ({@link DeclarationsGenerator}) and writes them, for each
 * annotated interface, into a small generated class that a process loads like any other (from the AOT cache,
 * in a spawned child): {@link #fromGenerated}. Where there is none (a class compiled outside the build) or it
 * does not match the interface's methods (stale), the class file is read at run time, as the generator reads
 * it; where that cannot be read, reflection serves. Tests check that the three agree.
 */
final class Declarations {

    /** {@code @CapnpInterface(id, name)}. */
    record InterfaceDecl(long id, String name) {}

    /** {@code @CapnpMethod(ordinal, context, result, name)}. */
    record MethodDecl(int ordinal, boolean context, String result, String name) {}

    /** Where a method carries {@code @Unsigned}: on itself (its result), on each parameter. */
    record UnsignedMarks(boolean result, List<Boolean> params) {}

    private static final String INTERFACE_DESCRIPTOR = descriptor(CapnpInterface.class);
    private static final String METHOD_DESCRIPTOR = descriptor(CapnpMethod.class);
    private static final String UNSIGNED_DESCRIPTOR = descriptor(Unsigned.class);

    /** What the name of an interface's generated declarations class adds to the interface's binary name. */
    static final String GENERATED_SUFFIX = "$$CapnpDeclarations";

    private static final ClassValue<Declarations> CACHE = new ClassValue<>() {
        @Override
        protected Declarations computeValue(Class<?> type) {
            Declarations read = fromGenerated(type);
            if (read == null) read = fromClassFile(type);
            return read != null ? read : fromReflection(type);
        }
    };

    private final InterfaceDecl declared;                 // null where the type has no @CapnpInterface
    private final Map<String, MethodDecl> methods;        // by name + descriptor
    private final Map<String, UnsignedMarks> unsigned;    // by name + descriptor, methods that have a mark
    private final Set<String> all;                        // name + descriptor of every declared method

    private Declarations(InterfaceDecl declared, Map<String, MethodDecl> methods, Map<String, UnsignedMarks> unsigned,
            Set<String> all) {
        this.declared = declared;
        this.methods = methods;
        this.unsigned = unsigned;
        this.all = all;
    }

    InterfaceDecl declared() {
        return declared;
    }

    Map<String, MethodDecl> methods() {
        return methods;
    }

    Map<String, UnsignedMarks> unsigned() {
        return unsigned;
    }

    /** The type's {@code @CapnpInterface}, or null. */
    static InterfaceDecl interfaceOf(Class<?> type) {
        return type.isInterface() ? CACHE.get(type).declared : null;
    }

    /** The method's {@code @CapnpMethod}, or null. */
    static MethodDecl methodOf(Method method) {
        return CACHE.get(method.getDeclaringClass()).methods.get(method.getName() + descriptor(method));
    }

    /** Whether {@code @Unsigned} marks the method's result ({@code param} -1) or its parameter {@code param}. */
    static boolean isUnsigned(Method method, int param) {
        UnsignedMarks marks = CACHE.get(method.getDeclaringClass()).unsigned.get(method.getName() + descriptor(method));
        return marks != null && (param < 0 ? marks.result() : param < marks.params().size() && marks.params().get(param));
    }

    /** Through reflection: the values as the annotations' proxies give them. */
    static Declarations fromReflection(Class<?> type) {
        CapnpInterface i = type.getAnnotation(CapnpInterface.class);
        Set<String> all = new HashSet<>();
        Map<String, MethodDecl> methods = new HashMap<>();
        Map<String, UnsignedMarks> unsigned = new HashMap<>();
        for (Method m : type.getDeclaredMethods()) {
            String key = m.getName() + descriptor(m);
            all.add(key);
            CapnpMethod a = m.getAnnotation(CapnpMethod.class);
            if (a != null) methods.put(key, new MethodDecl(a.ordinal(), a.context(), a.result(), a.name()));
            List<Boolean> params = new ArrayList<>();
            for (Parameter p : m.getParameters()) params.add(p.isAnnotationPresent(Unsigned.class));
            UnsignedMarks marks = new UnsignedMarks(m.isAnnotationPresent(Unsigned.class), params);
            if (marks.result() || params.contains(true)) unsigned.put(key, marks);
        }
        return new Declarations(i == null ? null : new InterfaceDecl(i.id(), i.name()), methods, unsigned, all);
    }

    /**
     * From the class the build generated for {@code type} ({@link DeclarationsGenerator}), or null if there is
     * none, it cannot be used, or it is stale: the methods it lists are not exactly those {@code type} declares.
     */
    static Declarations fromGenerated(Class<?> type) {
        ClassLoader loader = type.getClassLoader();
        if (loader == null || !type.isInterface()) return null;   // the JDK's: none of ours
        Object data;
        try {
            Class<?> generated = Class.forName(type.getName() + GENERATED_SUFFIX, false, loader);
            if (!Supplier.class.isAssignableFrom(generated) || generated.getClassLoader() != loader) return null;
            data = ((Supplier<?>) generated.getConstructor().newInstance()).get();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
        if (!(data instanceof String encoded)) return null;
        Declarations read;
        try {
            read = decode(encoded);
        } catch (RuntimeException e) {
            return null;
        }
        return read.describes(type) ? read : null;
    }

    /** Whether the methods listed here are exactly those {@code type} declares (else these are stale). */
    boolean describes(Class<?> type) {
        Set<String> present = new HashSet<>();
        for (Method m : type.getDeclaredMethods()) present.add(m.getName() + descriptor(m));
        return present.equals(all);
    }

    // ---- the generated classes' encoding: one line per item, fields separated by tabs
    //   I <id, hex> <name>                                   the interface (first line; absent if not annotated)
    //   K <name + descriptor>                                every declared method
    //   M <name + descriptor> <ordinal> <context 0|1> <result> <name>
    //   U <name + descriptor> <result 0|1> <one 0|1 per parameter>

    /** This, encoded for a generated class; null if a value holds a tab or a line break (then none is generated). */
    String encode() {
        StringBuilder b = new StringBuilder();
        try {
            if (declared != null) line(b, "I", Long.toHexString(declared.id()), declared.name());
            for (String key : sorted(all)) line(b, "K", key);
            for (String key : sorted(methods.keySet())) {
                MethodDecl m = methods.get(key);
                line(b, "M", key, Integer.toString(m.ordinal()), m.context() ? "1" : "0", m.result(), m.name());
            }
            for (String key : sorted(unsigned.keySet())) {
                UnsignedMarks u = unsigned.get(key);
                StringBuilder params = new StringBuilder();
                for (boolean p : u.params()) params.append(p ? '1' : '0');
                line(b, "U", key, u.result() ? "1" : "0", params.toString());
            }
        } catch (IllegalArgumentException e) {
            return null;
        }
        return b.toString();
    }

    private static void line(StringBuilder b, String... values) {
        for (int i = 0; i < values.length; i++) {
            String value = values[i];
            if (value.indexOf('\t') >= 0 || value.indexOf('\n') >= 0) throw new IllegalArgumentException(value);
            if (i > 0) b.append('\t');
            b.append(value);
        }
        b.append('\n');
    }

    private static List<String> sorted(Set<String> keys) {
        List<String> list = new ArrayList<>(keys);
        Collections.sort(list);
        return list;
    }

    /** The inverse of {@link #encode()}. */
    static Declarations decode(String encoded) {
        InterfaceDecl declared = null;
        Map<String, MethodDecl> methods = new HashMap<>();
        Map<String, UnsignedMarks> unsigned = new HashMap<>();
        Set<String> all = new HashSet<>();
        int start = 0;
        while (start < encoded.length()) {
            int end = encoded.indexOf('\n', start);
            if (end < 0) throw new IllegalArgumentException("unterminated line");
            String[] f = encoded.substring(start, end).split("\t", -1);
            start = end + 1;
            switch (f[0]) {
                case "I" -> declared = new InterfaceDecl(Long.parseUnsignedLong(f[1], 16), f[2]);
                case "K" -> all.add(f[1]);
                case "M" -> methods.put(f[1], new MethodDecl(Integer.parseInt(f[2]), f[3].equals("1"), f[4], f[5]));
                case "U" -> {
                    List<Boolean> params = new ArrayList<>();
                    for (int i = 0; i < f[3].length(); i++) params.add(f[3].charAt(i) == '1');
                    unsigned.put(f[1], new UnsignedMarks(f[2].equals("1"), params));
                }
                default -> throw new IllegalArgumentException("line kind " + f[0]);
            }
        }
        return new Declarations(declared, methods, unsigned, all);
    }

    Set<String> all() {
        return all;
    }

    /** From the class file, or null if it cannot be had or read. */
    static Declarations fromClassFile(Class<?> type) {
        byte[] bytes;
        try {
            bytes = classFileBytes(type);
            if (bytes == null) return null;
            return parse(new DataInputStream(new ByteArrayInputStream(bytes)));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The bytes of {@code type}'s class file, read from the jar or directory it was loaded from. Straight from the
     * jar with ZipFile, which takes ~0.3 ms in a fresh JVM, where the class loader's resource lookup (URL handlers,
     * the jar's manifest) takes ~5 ms: a spawned child reads these for every interface it serves. Null for a class
     * without a code source (the JDK's, which carry none of our annotations).
     */
    private static byte[] classFileBytes(Class<?> type) throws IOException {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) return null;
        String entry = type.getName().replace('.', '/') + ".class";
        Path location;
        try {
            location = Path.of(source.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            return null;
        }
        if (Files.isDirectory(location)) return Files.readAllBytes(location.resolve(entry));
        try (ZipFile jar = new ZipFile(location.toFile())) {
            ZipEntry found = jar.getEntry(entry);
            if (found == null) return null;
            try (InputStream in = jar.getInputStream(found)) {
                return in.readAllBytes();
            }
        }
    }

    // ---- the class file (JVMS chapter 4): only what leads to the annotation attributes is kept

    static Declarations parse(DataInputStream in) throws IOException {
        if (in.readInt() != 0xCAFEBABE) throw new IOException("not a class file");
        in.readUnsignedShort();   // minor_version
        in.readUnsignedShort();   // major_version
        Object[] pool = readConstantPool(in);
        in.readUnsignedShort();   // access_flags
        in.readUnsignedShort();   // this_class
        in.readUnsignedShort();   // super_class
        skip(in, 2 * in.readUnsignedShort());   // interfaces
        int fields = in.readUnsignedShort();
        for (int i = 0; i < fields; i++) {
            skip(in, 6);
            skipAttributes(in);
        }
        Map<String, MethodDecl> methods = new HashMap<>();
        Map<String, UnsignedMarks> unsigned = new HashMap<>();
        Set<String> all = new HashSet<>();
        int count = in.readUnsignedShort();
        for (int i = 0; i < count; i++) {
            in.readUnsignedShort();   // access_flags
            String name = (String) pool[in.readUnsignedShort()];
            String descriptor = (String) pool[in.readUnsignedShort()];
            Annotations annotations = readAnnotations(in, pool);
            List<Boolean> params = new ArrayList<>();
            for (Set<String> types : annotations.params) params.add(types.contains(UNSIGNED_DESCRIPTOR));
            UnsignedMarks marks = new UnsignedMarks(annotations.values.containsKey(UNSIGNED_DESCRIPTOR), params);
            if (name.startsWith("<")) continue;   // a constructor or initializer: not a method reflection lists
            all.add(name + descriptor);
            if (marks.result() || params.contains(true)) unsigned.put(name + descriptor, marks);
            Map<String, Object> values = annotations.values.get(METHOD_DESCRIPTOR);
            if (values != null) {
                methods.put(name + descriptor, new MethodDecl(
                        (Integer) values.get("ordinal"),
                        (Boolean) values.getOrDefault("context", defaultOf(CapnpMethod.class, "context")),
                        (String) values.getOrDefault("result", defaultOf(CapnpMethod.class, "result")),
                        (String) values.getOrDefault("name", defaultOf(CapnpMethod.class, "name"))));
            }
        }
        Map<String, Object> values = readAnnotations(in, pool).values.get(INTERFACE_DESCRIPTOR);
        InterfaceDecl declared = values == null ? null : new InterfaceDecl((Long) values.get("id"),
                (String) values.getOrDefault("name", defaultOf(CapnpInterface.class, "name")));
        return new Declarations(declared, methods, unsigned, all);
    }

    /** Utf8 entries as Strings, Integer/Long constants boxed; other entries are skipped (null). */
    private static Object[] readConstantPool(DataInputStream in) throws IOException {
        Object[] pool = new Object[in.readUnsignedShort()];
        for (int i = 1; i < pool.length; i++) {
            int tag = in.readUnsignedByte();
            switch (tag) {
                case 1 -> pool[i] = in.readUTF();   // CONSTANT_Utf8: u2 length + modified UTF-8, as readUTF reads it
                case 3 -> pool[i] = in.readInt();
                case 4 -> skip(in, 4);
                case 5 -> pool[i++] = in.readLong();   // a long or double takes two entries
                case 6 -> { skip(in, 8); i++; }
                case 7, 8, 16, 19, 20 -> skip(in, 2);
                case 9, 10, 11, 12, 17, 18 -> skip(in, 4);
                case 15 -> skip(in, 3);
                default -> throw new IOException("constant pool tag " + tag);
            }
        }
        return pool;
    }

    /** The runtime-visible annotations of a member or class: element values by annotation type; parameters' types. */
    private record Annotations(Map<String, Map<String, Object>> values, List<Set<String>> params) {}

    /**
     * Reads the attributes that follow (a field's, a method's or the class's) and returns their runtime-visible
     * annotations. Elements left at their defaults are absent from the class file, so from the maps.
     */
    private static Annotations readAnnotations(DataInputStream in, Object[] pool) throws IOException {
        Map<String, Map<String, Object>> values = new HashMap<>();
        List<Set<String>> params = new ArrayList<>();
        int count = in.readUnsignedShort();
        for (int i = 0; i < count; i++) {
            String name = (String) pool[in.readUnsignedShort()];
            int length = in.readInt();
            if ("RuntimeVisibleAnnotations".equals(name)) {
                int annotations = in.readUnsignedShort();
                for (int a = 0; a < annotations; a++) {
                    Map<String, Object> one = readAnnotationValues(in, pool);
                    values.put((String) one.get(TYPE), one);
                }
            } else if ("RuntimeVisibleParameterAnnotations".equals(name)) {
                int n = in.readUnsignedByte();
                for (int p = 0; p < n; p++) {
                    Set<String> types = new HashSet<>();
                    int annotations = in.readUnsignedShort();
                    for (int a = 0; a < annotations; a++) types.add((String) readAnnotationValues(in, pool).get(TYPE));
                    params.add(types);
                }
            } else {
                skip(in, length);
            }
        }
        return new Annotations(values, params);
    }

    private static final String TYPE = "\0type";

    /** One {@code annotation} structure: its type under {@link #TYPE}, and its constant element values. */
    private static Map<String, Object> readAnnotationValues(DataInputStream in, Object[] pool) throws IOException {
        Map<String, Object> values = new HashMap<>();
        values.put(TYPE, pool[in.readUnsignedShort()]);
        int pairs = in.readUnsignedShort();
        for (int p = 0; p < pairs; p++) {
            String element = (String) pool[in.readUnsignedShort()];
            Object value = readElementValue(in, pool);
            if (value != null) values.put(element, value);
        }
        return values;
    }

    private static Object readElementValue(DataInputStream in, Object[] pool) throws IOException {
        int tag = in.readUnsignedByte();
        switch (tag) {
            case 'I', 'J', 's' -> {
                return pool[in.readUnsignedShort()];
            }
            case 'Z' -> {
                return ((Integer) pool[in.readUnsignedShort()]) != 0;
            }
            case 'B', 'C', 'D', 'F', 'S', 'c' -> skip(in, 2);
            case 'e' -> skip(in, 4);
            case '@' -> readAnnotationValues(in, pool);
            case '[' -> {
                int n = in.readUnsignedShort();
                for (int i = 0; i < n; i++) readElementValue(in, pool);
            }
            default -> throw new IOException("element value tag " + (char) tag);
        }
        return null;   // kinds our two annotations do not use
    }

    private static void skipAttributes(DataInputStream in) throws IOException {
        int count = in.readUnsignedShort();
        for (int i = 0; i < count; i++) {
            in.readUnsignedShort();
            skip(in, in.readInt());
        }
    }

    private static void skip(DataInputStream in, int n) throws IOException {
        in.skipNBytes(n);
    }

    /** The default an annotation declares for an element (read by reflection, which makes no proxy for it). */
    private static Object defaultOf(Class<?> annotation, String element) {
        try {
            return annotation.getMethod(element).getDefaultValue();
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- descriptors (JVMS 4.3)

    private static String descriptor(Method m) {
        StringBuilder b = new StringBuilder("(");
        for (Class<?> p : m.getParameterTypes()) b.append(descriptor(p));
        return b.append(')').append(descriptor(m.getReturnType())).toString();
    }

    private static String descriptor(Class<?> c) {
        if (c.isArray()) return "[" + descriptor(c.getComponentType());
        if (c == void.class) return "V";
        if (c == boolean.class) return "Z";
        if (c == byte.class) return "B";
        if (c == char.class) return "C";
        if (c == short.class) return "S";
        if (c == int.class) return "I";
        if (c == long.class) return "J";
        if (c == float.class) return "F";
        if (c == double.class) return "D";
        return "L" + c.getName().replace('.', '/') + ";";
    }
}
