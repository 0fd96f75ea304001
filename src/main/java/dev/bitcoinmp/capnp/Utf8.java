package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Text fields: UTF-8 without the NUL terminator (the runtime's sizes exclude it). */
final class Utf8 {
    private Utf8() {}

    static String decode(ByteBuffer buffer, int offset, int size) {
        if (buffer.hasArray()) {
            return new String(buffer.array(), buffer.arrayOffset() + offset, size, StandardCharsets.UTF_8);
        }
        byte[] bytes = new byte[size];
        buffer.get(offset, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static byte[] encode(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }

    /** True when every char of {@code value} is ASCII, whose UTF-8 encoding is the char's low byte. */
    static boolean isAscii(String value) {
        for (int i = 0, n = value.length(); i < n; i++) {
            if (value.charAt(i) >= 0x80) return false;
        }
        return true;
    }

    /** Writes an ASCII {@code value} (see {@link #isAscii}) as UTF-8 at {@code offset} of {@code buffer}. */
    @SuppressWarnings("deprecation")  // getBytes(int, int, byte[], int) copies each char's low byte, which is right for ASCII
    static void putAscii(String value, ByteBuffer buffer, int offset) {
        int n = value.length();
        if (buffer.hasArray()) {
            value.getBytes(0, n, buffer.array(), buffer.arrayOffset() + offset);
        } else {
            for (int i = 0; i < n; i++) buffer.put(offset + i, (byte) value.charAt(i));
        }
    }
}
