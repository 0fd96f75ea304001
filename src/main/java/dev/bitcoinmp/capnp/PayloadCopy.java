package dev.bitcoinmp.capnp;

import org.capnproto.DecodeException;
import org.capnproto.StructList;

/**
 * Copies a struct read from one message into another, capability pointers included: what forwarding a call
 * needs (its parameters into the forwarded call, the forwarded call's results into the answer). The runtime's
 * copy refuses capability pointers; here they are copied as they are, naming the same entries of the
 * capability table, which the forwarder rebuilds in the same order.
 */
final class PayloadCopy {
    private PayloadCopy() {}

    /** What the runtime's copy throws for a capability pointer. */
    private static final String RUNTIME_REFUSES_CAPS = "copyPointer is unimplemented for OTHER pointers";
    private static final int MAX_DEPTH = 64;

    /** The data words a struct of {@code bits} data bits takes. */
    static int dataWords(StructIn struct) {
        return (struct.dataBits() + 63) / 64;
    }

    /** Copies the fields of {@code from} into {@code to}, which is at least as large. */
    static void copyStruct(StructIn from, StructOut to) {
        copyStruct(from, to, 0);
    }

    private static void copyStruct(StructIn from, StructOut to, int depth) {
        if (depth > MAX_DEPTH) throw new MalformedMessageException("struct nested too deeply to be copied");
        int bits = Math.min(from.dataBits(), 64 * to.dataWords());
        int words = bits / 64;
        for (int i = 0; i < words; i++) to.setLong(i, from.getLong(i));
        // A struct read from a list of primitives (a list's elements read as structs) has less than a word.
        for (int bit = 64 * words; bit < bits; bit++) if (from.getBool(bit)) to.setBool(bit, true);
        int pointers = Math.min(from.pointerCount(), to.pointerCount());
        for (int i = 0; i < pointers; i++) copyPointer(from, i, to, i, depth);
    }

    private static void copyPointer(StructIn from, int index, StructOut to, int toIndex, int depth) {
        long word = from.pointerWord(index);
        if (word == 0) return;
        if ((word & 3) == 3) {
            to.setCapIndex(toIndex, from.getCapIndex(index));
            return;
        }
        try {
            to.setAnyPointer(toIndex, from.anyPointer(index));
            return;
        } catch (RuntimeException e) {
            if (!RUNTIME_REFUSES_CAPS.equals(e.getMessage())) throw e;
        }
        // Capabilities somewhere below: a struct or a list, copied element by element.
        to.clearPointer(toIndex);
        StructIn struct;
        try {
            struct = from.getStruct(index);
        } catch (DecodeException notAStruct) {
            struct = null;
        }
        if (struct != null) {
            copyStruct(struct, to.initStruct(toIndex, dataWords(struct), struct.pointerCount()), depth + 1);
            return;
        }
        // A list of structs or of pointers (a list of primitives holds no capability): written as a list of
        // structs, which readers accept for either (a pointer list's element is a struct's first pointer).
        StructList.Reader<StructIn> list = from.getStructList(index);
        int size = list.size();
        int dataWords = size == 0 ? 0 : dataWords(list.get(0));
        int pointerCount = size == 0 ? 0 : list.get(0).pointerCount();
        StructList.Builder<StructOut> copy = to.initStructList(toIndex, size, dataWords, pointerCount);
        for (int i = 0; i < size; i++) copyStruct(list.get(i), copy.get(i), depth + 1);
    }
}
