package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.StructIn;
import dev.bitcoinmp.capnp.StructOut;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.capnproto.Data;
import org.capnproto.DataList;
import org.capnproto.PrimitiveList;
import org.capnproto.StructList;
import org.capnproto.Text;
import org.capnproto.TextList;

/**
 * Converts one field between its Java value and its place in a struct. A codec is made for a field of a
 * given struct layout: making it allocates the field's slot, as the capnp compiler would.
 */
abstract class Codec {

    /** Where capabilities go when writing, and come from when reading. */
    interface Caps {
        int add(Capability cap);

        /** A new handle for table entry {@code index}, owned by the caller (null for none). */
        Capability take(int index);

        MpConnection connection();
    }

    /** The capabilities of values that cannot hold any (see {@link #carriesCaps}): there are none to add or take. */
    static final Caps NO_CAPS = new Caps() {
        @Override
        public int add(Capability cap) {
            throw new IllegalStateException("a value without capabilities added one");
        }

        @Override
        public Capability take(int index) {
            throw new IllegalStateException("a value without capabilities took one");
        }

        @Override
        public MpConnection connection() {
            return null;
        }
    };

    final String name;
    final String schemaType;

    Codec(String name, String schemaType) {
        this.name = name;
        this.schemaType = schemaType;
    }

    abstract void write(StructOut struct, Object value, Caps caps);

    abstract Object read(StructIn struct, Caps caps);

    /** Bytes the value needs beyond the struct itself: a hint for the message's first segment. */
    int sizeHint(Object value) {
        return 0;
    }

    /** True when a value of this field can hold a capability (it is one, or contains one). */
    boolean carriesCaps() {
        return false;
    }

    /** Describes the field's slot, for tests against the compiler: {@code bits[a, b)} or {@code ptr[n]}. */
    abstract String slot();

    /** A codec for a field named {@code name} of Java type {@code type}, placed in {@code layout}. */
    static Codec of(String name, Type type, boolean unsigned, StructLayout layout) {
        if (type instanceof Class<?> c && c.isPrimitive()) return primitive(name, c, unsigned, layout);
        if (type == String.class) return new TextCodec(name, layout.addPointer());
        if (type == byte[].class) return new DataCodec(name, layout.addPointer());
        if (type instanceof Class<?> c && c.isRecord()) return new RecordCodec(name, c, layout.addPointer());
        if (type instanceof Class<?> c && Declarations.interfaceOf(c) != null) {
            return new InterfaceCodec(name, c, layout.addPointer());
        }
        if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
            return ListCodec.of(name, p.getActualTypeArguments()[0], unsigned, layout.addPointer());
        }
        throw new IllegalArgumentException("field " + name + ": type " + type.getTypeName() + " has no Cap'n Proto mapping");
    }

    private static Codec primitive(String name, Class<?> c, boolean unsigned, StructLayout layout) {
        String u = unsigned ? "U" : "";
        if (c == boolean.class) return new PrimitiveCodec(name, "Bool", 0, layout.addData(0));
        if (c == byte.class) return new PrimitiveCodec(name, u + "Int8", 3, layout.addData(3));
        if (c == short.class) return new PrimitiveCodec(name, u + "Int16", 4, layout.addData(4));
        if (c == int.class) return new PrimitiveCodec(name, u + "Int32", 5, layout.addData(5));
        if (c == long.class) return new PrimitiveCodec(name, u + "Int64", 6, layout.addData(6));
        if (c == float.class) return new PrimitiveCodec(name, "Float32", -5, layout.addData(5));
        if (c == double.class) return new PrimitiveCodec(name, "Float64", -6, layout.addData(6));
        throw new IllegalArgumentException("field " + name + ": type " + c + " has no Cap'n Proto mapping");
    }

    private static final class PrimitiveCodec extends Codec {
        private final int kind;     // lg2 of the size in bits; negative for floating point
        private final int offset;

        PrimitiveCodec(String name, String schemaType, int kind, int offset) {
            super(name, schemaType);
            this.kind = kind;
            this.offset = offset;
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            switch (kind) {
                case 0 -> s.setBool(offset, (Boolean) v);
                case 3 -> s.setByte(offset, (Byte) v);
                case 4 -> s.setShort(offset, (Short) v);
                case 5 -> s.setInt(offset, (Integer) v);
                case 6 -> s.setLong(offset, (Long) v);
                case -5 -> s.setFloat(offset, (Float) v);
                default -> s.setDouble(offset, (Double) v);
            }
        }

        @Override
        Object read(StructIn s, Caps caps) {
            return switch (kind) {
                case 0 -> s.getBool(offset);
                case 3 -> s.getByte(offset);
                case 4 -> s.getShort(offset);
                case 5 -> s.getInt(offset);
                case 6 -> s.getLong(offset);
                case -5 -> s.getFloat(offset);
                default -> s.getDouble(offset);
            };
        }

        @Override
        String slot() {
            int bits = 1 << Math.abs(kind);
            return "bits[" + offset * bits + ", " + (offset + 1) * bits + ")";
        }
    }

    private abstract static class PointerCodec extends Codec {
        final int index;

        PointerCodec(String name, String schemaType, int index) {
            super(name, schemaType);
            this.index = index;
        }

        @Override
        String slot() {
            return "ptr[" + index + "]";
        }
    }

    private static final class TextCodec extends PointerCodec {
        TextCodec(String name, int index) {
            super(name, "Text", index);
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            s.setText(index, (String) v);
        }

        @Override
        Object read(StructIn s, Caps caps) {
            return s.getText(index);
        }

        @Override
        int sizeHint(Object v) {
            return StructOut.textSizeHint((String) v);
        }
    }

    private static final class DataCodec extends PointerCodec {
        DataCodec(String name, int index) {
            super(name, "Data", index);
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            s.setData(index, (byte[]) v);
        }

        @Override
        Object read(StructIn s, Caps caps) {
            return s.getData(index);
        }

        @Override
        int sizeHint(Object v) {
            return v == null ? 0 : (((byte[]) v).length + 7) & ~7;
        }
    }

    /** A record as a struct: components are its fields, in declaration order. */
    static final class RecordCodec extends PointerCodec {
        final List<Codec> fields = new ArrayList<>();
        private final RecordComponent[] components;
        private final Constructor<?> constructor;
        final int dataWords;
        final int pointers;

        RecordCodec(String name, Class<?> type, int index) {
            super(name, schemaName(type), index);
            components = type.getRecordComponents();
            StructLayout layout = new StructLayout();
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                RecordComponent c = components[i];
                fields.add(Codec.of(c.getName(), c.getGenericType(), c.isAnnotationPresent(Unsigned.class), layout));
                types[i] = c.getType();
                c.getAccessor().setAccessible(true);
            }
            dataWords = layout.dataWords();
            pointers = layout.pointers();
            try {
                constructor = type.getDeclaredConstructor(types);
                constructor.setAccessible(true);
            } catch (NoSuchMethodException e) {
                throw new IllegalArgumentException("record " + type.getName() + " has no canonical constructor", e);
            }
        }

        private static String schemaName(Class<?> type) {
            return type.getSimpleName();
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            if (v != null) writeFields(s.initStruct(index, dataWords, pointers), v, caps);
        }

        void writeFields(StructOut struct, Object v, Caps caps) {
            for (int i = 0; i < components.length; i++) fields.get(i).write(struct, component(v, i), caps);
        }

        private Object component(Object record, int i) {
            try {
                return components[i].getAccessor().invoke(record);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("cannot read " + components[i], e);
            }
        }

        @Override
        Object read(StructIn s, Caps caps) {
            return s.hasPointer(index) ? readFields(s.getStruct(index), caps) : null;
        }

        @Override
        boolean carriesCaps() {
            for (Codec field : fields) if (field.carriesCaps()) return true;
            return false;
        }

        Object readFields(StructIn struct, Caps caps) {
            Object[] values = new Object[components.length];
            for (int i = 0; i < values.length; i++) values[i] = fields.get(i).read(struct, caps);
            try {
                return constructor.newInstance(values);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot make " + constructor.getDeclaringClass().getName(), e);
            }
        }

        @Override
        int sizeHint(Object v) {
            if (v == null) return 0;
            int size = 8 * (dataWords + pointers);
            for (int i = 0; i < components.length; i++) size += fields.get(i).sizeHint(component(v, i));
            return size;
        }
    }

    /** A capability: our proxy's own capability, or an object of ours exported for the peer. */
    static final class InterfaceCodec extends PointerCodec {
        final Class<?> type;

        InterfaceCodec(String name, Class<?> type, int index) {
            super(name, InterfaceSchema.schemaName(type), index);
            this.type = type;
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            if (v == null) return;
            Capability cap = Proxies.capabilityOf(v, type);
            try {
                s.setCapIndex(index, caps.add(cap));
            } finally {
                cap.close();
            }
        }

        @Override
        boolean carriesCaps() {
            return true;
        }

        /** The capability's entry in the message's capability table (and that table's size word). */
        @Override
        int sizeHint(Object v) {
            return v == null ? 0 : 24;
        }

        @Override
        Object read(StructIn s, Caps caps) {
            Capability cap = readCapability(s, caps);
            return cap == null ? null : Proxies.objectOf(cap, type, caps.connection());
        }

        /** The capability itself, taken over by the caller, or null. */
        Capability readCapability(StructIn s, Caps caps) {
            int capIndex = s.getCapIndex(index);
            return capIndex < 0 ? null : caps.take(capIndex);
        }
    }

    /** Lists of primitives, Text, Data and structs. */
    private static final class ListCodec extends PointerCodec {
        private final Class<?> element;
        private final RecordCodec record;

        private ListCodec(String name, String schemaType, Class<?> element, RecordCodec record, int index) {
            super(name, schemaType, index);
            this.element = element;
            this.record = record;
        }

        static ListCodec of(String name, Type elementType, boolean unsigned, int index) {
            if (!(elementType instanceof Class<?> e)) {
                throw new IllegalArgumentException("field " + name + ": lists of " + elementType.getTypeName() + " are not supported");
            }
            String u = unsigned ? "U" : "";
            String schema;
            RecordCodec record = null;
            if (e == Boolean.class) schema = "Bool";
            else if (e == Byte.class) schema = u + "Int8";
            else if (e == Short.class) schema = u + "Int16";
            else if (e == Integer.class) schema = u + "Int32";
            else if (e == Long.class) schema = u + "Int64";
            else if (e == Float.class) schema = "Float32";
            else if (e == Double.class) schema = "Float64";
            else if (e == String.class) schema = "Text";
            else if (e == byte[].class) schema = "Data";
            else if (e.isRecord()) {
                record = new RecordCodec(name, e, 0);
                schema = record.schemaType;
            } else {
                throw new IllegalArgumentException("field " + name + ": lists of " + e.getName() + " are not supported");
            }
            return new ListCodec(name, "List(" + schema + ")", e, record, index);
        }

        @Override
        boolean carriesCaps() {
            return record != null && record.carriesCaps();
        }

        @Override
        void write(StructOut s, Object v, Caps caps) {
            if (v == null) return;
            List<?> list = (List<?>) v;
            int n = list.size();
            if (element == Boolean.class) {
                PrimitiveList.Boolean.Builder b = s.initList(PrimitiveList.Boolean.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Boolean) list.get(i));
            } else if (element == Byte.class) {
                PrimitiveList.Byte.Builder b = s.initList(PrimitiveList.Byte.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Byte) list.get(i));
            } else if (element == Short.class) {
                PrimitiveList.Short.Builder b = s.initList(PrimitiveList.Short.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Short) list.get(i));
            } else if (element == Integer.class) {
                PrimitiveList.Int.Builder b = s.initList(PrimitiveList.Int.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Integer) list.get(i));
            } else if (element == Long.class) {
                PrimitiveList.Long.Builder b = s.initList(PrimitiveList.Long.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Long) list.get(i));
            } else if (element == Float.class) {
                PrimitiveList.Float.Builder b = s.initList(PrimitiveList.Float.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Float) list.get(i));
            } else if (element == Double.class) {
                PrimitiveList.Double.Builder b = s.initList(PrimitiveList.Double.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, (Double) list.get(i));
            } else if (element == String.class) {
                TextList.Builder b = s.initList(TextList.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, new Text.Reader((String) list.get(i)));
            } else if (element == byte[].class) {
                DataList.Builder b = s.initList(DataList.factory, index, n);
                for (int i = 0; i < n; i++) b.set(i, new Data.Reader((byte[]) list.get(i)));
            } else {
                StructList.Builder<StructOut> b = s.initStructList(index, n, record.dataWords, record.pointers);
                for (int i = 0; i < n; i++) record.writeFields(b.get(i), list.get(i), caps);
            }
        }

        @Override
        Object read(StructIn s, Caps caps) {
            if (!s.hasPointer(index)) return List.of();
            List<Object> out = new ArrayList<>();
            if (element == Boolean.class) {
                PrimitiveList.Boolean.Reader r = s.getList(PrimitiveList.Boolean.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Byte.class) {
                PrimitiveList.Byte.Reader r = s.getList(PrimitiveList.Byte.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Short.class) {
                PrimitiveList.Short.Reader r = s.getList(PrimitiveList.Short.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Integer.class) {
                PrimitiveList.Int.Reader r = s.getList(PrimitiveList.Int.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Long.class) {
                PrimitiveList.Long.Reader r = s.getList(PrimitiveList.Long.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Float.class) {
                PrimitiveList.Float.Reader r = s.getList(PrimitiveList.Float.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == Double.class) {
                PrimitiveList.Double.Reader r = s.getList(PrimitiveList.Double.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i));
            } else if (element == String.class) {
                TextList.Reader r = s.getList(TextList.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i).toString());
            } else if (element == byte[].class) {
                DataList.Reader r = s.getList(DataList.factory, index);
                for (int i = 0; i < r.size(); i++) out.add(r.get(i).toArray());
            } else {
                StructList.Reader<StructIn> r = s.getStructList(index);
                for (int i = 0; i < r.size(); i++) out.add(record.readFields(r.get(i), caps));
            }
            return Collections.unmodifiableList(out);
        }

        @Override
        int sizeHint(Object v) {
            if (v == null) return 0;
            List<?> list = (List<?>) v;
            int size = 16 + list.size() * 8;
            if (record != null) for (Object e : list) size += record.sizeHint(e);
            else if (element == String.class) for (Object e : list) size += ((String) e).length() * 3 + 8;
            else if (element == byte[].class) for (Object e : list) size += ((byte[]) e).length + 8;
            return size;
        }
    }
}
