package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.capnproto.BuilderArena;
import org.capnproto.SegmentBuilder;

/**
 * Long texts of messages that a connection reuses get a segment of their own, in native memory kept for reuse:
 * the message's first segment stays small (zeroing it for reuse costs little), the text's segment is written
 * whole (landing pad, text, NUL and padding) and so never needs zeroing, and the writer sends it from where it
 * is. A far pointer in the struct leads to it, as the encoding allows for any pointer.
 *
 * <p>The buffers are shared by all connections of the process, a bounded number and size of them.
 */
final class TextSegments {
    private TextSegments() {}

    /** Texts at least this long (in chars) get their own segment. */
    static final int MIN_CHARS = 8 * 1024;
    private static final int MIN_BUFFER = 16 * 1024;
    private static final int MAX_KEPT = 16;
    private static final long MAX_KEPT_BYTES = 16L << 20;
    /** Buffers larger than this are not kept. */
    private static final int MAX_KEPT_BUFFER = 4 << 20;

    private static final ByteBuffer[] kept = new ByteBuffer[MAX_KEPT];   // guarded by kept
    private static int keptCount;
    private static long keptBytes;

    /**
     * Writes {@code value} at pointer {@code pointer} (a word of {@code segment}, which must be null) as a
     * text in a segment of its own, if its UTF-8 encoding is one byte per char (ASCII, in practice); false
     * (nothing written) otherwise.
     */
    static boolean put(SegmentBuilder segment, int pointer, String value) {
        int n = value.length();
        int textWords = (n + 1 + 7) / 8;          // the text, its NUL and padding to a word
        int bytes = 8 * (1 + textWords);          // after the landing pad
        ByteBuffer buffer = take(bytes);
        buffer.putLong(8 * textWords, 0L);         // the last word: what the text does not cover stays zero
        if (!Utf8.tryPutAscii(value, buffer, 8)) {
            giveBack(buffer);
            return false;
        }
        BuilderArena arena = segment.getArena();
        SegmentBuilder text = new SegmentBuilder(buffer, arena);
        text.id = arena.segments.size();
        text.allocate(1 + textWords);
        // The landing pad: a list pointer to the bytes right after it (offset 0, element size 2: bytes).
        text.put(0, 1L | 2L << 32 | (long) (n + 1) << 35);
        arena.segments.add(text);
        // A far pointer (kind 2, one landing pad at word 0) into the new segment.
        segment.put(pointer, 2L | (long) text.id << 32);
        return true;
    }

    /** A buffer of at least {@code bytes} bytes whose limit is {@code bytes}; its content is anything. */
    private static ByteBuffer take(int bytes) {
        synchronized (kept) {
            int best = -1;
            for (int i = 0; i < keptCount; i++) {
                int capacity = kept[i].capacity();
                if (capacity >= bytes && (best < 0 || capacity < kept[best].capacity())) best = i;
            }
            if (best >= 0) {
                ByteBuffer buffer = kept[best];
                kept[best] = kept[--keptCount];
                kept[keptCount] = null;
                keptBytes -= buffer.capacity();
                return buffer.clear().limit(bytes);
            }
        }
        int capacity = Math.max(MIN_BUFFER, Integer.highestOneBit(bytes - 1) << 1);
        return ByteBuffer.allocateDirect(capacity).order(ByteOrder.LITTLE_ENDIAN).limit(bytes);
    }

    /** Keeps {@code buffer}, a text segment of a message nothing refers to any more, if within the bounds. */
    static void giveBack(ByteBuffer buffer) {
        int capacity = buffer.capacity();
        if (capacity > MAX_KEPT_BUFFER) return;
        synchronized (kept) {
            if (keptCount == MAX_KEPT || keptBytes + capacity > MAX_KEPT_BYTES) return;
            for (int i = 0; i < keptCount; i++) if (kept[i] == buffer) return;
            kept[keptCount++] = buffer;
            keptBytes += capacity;
        }
    }
}
