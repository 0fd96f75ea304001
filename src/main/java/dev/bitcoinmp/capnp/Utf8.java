package dev.bitcoinmp.capnp;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Text fields: UTF-8 without the NUL terminator (the runtime's sizes exclude it). */
final class Utf8 {
    private Utf8() {}

    /** Strings shorter than this are checked for ASCII char by char; longer ones by the JDK's vectorized check. */
    private static final int SHORT = 256;

    static String decode(ByteBuffer buffer, int offset, int size) {
        if (buffer.hasArray()) {
            return new String(buffer.array(), buffer.arrayOffset() + offset, size, StandardCharsets.UTF_8);
        }
        byte[] bytes = new byte[size];
        buffer.get(offset, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static String decode(byte[] array, int offset, int size) {
        return new String(array, offset, size, StandardCharsets.UTF_8);
    }

    static byte[] encode(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /** True when {@code value} is short and every char of it is ASCII (see {@link #tryPutAscii} for long ones). */
    static boolean isShortAscii(String value) {
        int n = value.length();
        if (n >= SHORT) return false;
        for (int i = 0; i < n; i++) {
            if (value.charAt(i) >= 0x80) return false;
        }
        return true;
    }

    /** True when {@code value} is short enough for {@link #isShortAscii} to tell whether it is ASCII. */
    static boolean isShort(String value) {
        return value.length() < SHORT;
    }

    /** Writes an ASCII {@code value} (see {@link #isShortAscii}) at {@code offset} of {@code buffer}. */
    @SuppressWarnings("deprecation")  // getBytes(int, int, byte[], int) copies each char's low byte, which is right for ASCII
    static void putAscii(String value, ByteBuffer buffer, int offset) {
        int n = value.length();
        if (buffer.hasArray()) {
            value.getBytes(0, n, buffer.array(), buffer.arrayOffset() + offset);
        } else {
            for (int i = 0; i < n; i++) buffer.put(offset + i, (byte) value.charAt(i));
        }
    }

    /**
     * Writes {@code value} and a NUL at {@code offset} of {@code buffer}, where {@code value.length() + 1}
     * bytes are reserved, if its UTF-8 encoding is that long (ASCII, in practice); false otherwise, and
     * those bytes may then hold anything. One vectorized check and one copy, as the JDK does it for a memory
     * segment, instead of a loop over the chars.
     */
    static boolean tryPutAscii(String value, ByteBuffer buffer, int offset) {
        MemorySegment text = MemorySegment.ofBuffer(buffer).asSlice(offset, value.length() + 1L);
        try {
            text.setString(0, value, StandardCharsets.UTF_8);
            return true;
        } catch (IndexOutOfBoundsException e) {
            return false;   // longer in UTF-8: not ASCII
        }
    }
}
