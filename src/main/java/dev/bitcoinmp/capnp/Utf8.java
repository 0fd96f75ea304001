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
}
