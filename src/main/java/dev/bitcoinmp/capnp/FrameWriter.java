package dev.bitcoinmp.capnp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.capnproto.BuilderArena;
import org.capnproto.MessageBuilder;
import org.capnproto.SegmentBuilder;

/**
 * Turns outgoing messages into the bytes of the standard stream framing. A writer collects the frames of
 * one write: headers and small segments are copied into a (native) staging buffer that is kept from write
 * to write (so that framing the messages of a call allocates nothing); large segments are written from where
 * they are, in the same gathering write. One thread at a time uses a writer.
 */
final class FrameWriter {

    /** Segments up to this size are copied into the staging buffer; larger ones are not copied. */
    private static final int COPY_LIMIT = 4096;
    private static final int INITIAL_STAGING = 4096;
    /** A staging buffer grown beyond this (by a burst of messages) is not kept after the write. */
    private static final int KEPT_STAGING = 64 * 1024;

    private ByteBuffer staging = newStaging(INITIAL_STAGING);
    private int regionStart;       // staging bytes from here on are not in `parts` yet
    private ByteBuffer[] parts = new ByteBuffer[4];
    private int partCount;

    /** Adds the frame of a message built with the runtime's builders. */
    void add(BuilderArena message) {
        List<SegmentBuilder> segments = message.segments;
        int count = segments.size();
        int headerBytes = (4 + 4 * count + 7) & ~7;
        reserve(headerBytes);
        int at = staging.position();
        staging.putInt(at, count - 1);
        for (int i = 0; i < count; i++) staging.putInt(at + 4 + 4 * i, segments.get(i).currentSize());
        if (count % 2 == 0) staging.putInt(at + 4 + 4 * count, 0);   // padding; the buffer is reused
        staging.position(at + headerBytes);
        for (int i = 0; i < count; i++) {
            SegmentBuilder segment = segments.get(i);
            int bytes = segment.currentSize() * 8;
            ByteBuffer buffer = segment.buffer;
            if (bytes <= COPY_LIMIT) {
                reserve(bytes);
                staging.put(staging.position(), buffer, 0, bytes);
                staging.position(staging.position() + bytes);
            } else {
                endRegion();
                addPart(buffer.slice(0, bytes));
            }
        }
    }

    /** Adds the frame of a message whose member is one data word without pointers (see {@link SmallMessage}). */
    void addSmall(short tag, long data) {
        reserve(SmallMessage.FRAME_BYTES);
        int at = staging.position();
        staging.putInt(at, 0);                          // one segment
        staging.putInt(at + 4, 4);                      // of four words:
        staging.putLong(at + 8, SmallMessage.ROOT_POINTER);       // the root,
        staging.putLong(at + 16, tag & 0xffffL);                  // Message: its union tag,
        staging.putLong(at + 24, SmallMessage.MEMBER_POINTER);    // its member, right after,
        staging.putLong(at + 32, data);                           // which is one word of data
        staging.position(at + SmallMessage.FRAME_BYTES);
    }

    /** Writes everything added, in order, and starts over (also when the write fails). */
    void writeTo(Stream stream) throws IOException {
        try {
            if (partCount == 0) {
                // Everything is in the staging buffer: write it as it is.
                staging.limit(staging.position()).position(0);
                addPart(staging);
            } else {
                endRegion();
            }
            stream.write(parts, partCount);
        } finally {
            reset();
        }
    }

    /** Forgets what was added and not written (after a failure, say). */
    void reset() {
        java.util.Arrays.fill(parts, 0, partCount, null);   // large segments are not kept alive here
        partCount = 0;
        regionStart = 0;
        staging = staging.capacity() > KEPT_STAGING ? newStaging(INITIAL_STAGING) : staging.clear();
    }

    /** Makes room for {@code bytes} more staging bytes. */
    private void reserve(int bytes) {
        if (staging.remaining() >= bytes) return;
        int used = staging.position();
        ByteBuffer bigger = newStaging(Math.max(2 * staging.capacity(), used + bytes));
        // Regions already in `parts` keep the old array; the open one moves (copied with what precedes it).
        bigger.put(0, staging, 0, used);
        bigger.position(used);
        staging = bigger;
    }

    /** Adds the staging bytes since the last part as a part of their own. */
    private void endRegion() {
        int end = staging.position();
        if (end > regionStart) addPart(staging.slice(regionStart, end - regionStart));
        regionStart = end;
    }

    private void addPart(ByteBuffer part) {
        if (partCount == parts.length) parts = java.util.Arrays.copyOf(parts, partCount * 2);
        parts[partCount++] = part;
    }

    /**
     * In native memory: a stream writes native buffers from where they are, so a write whose parts are all
     * native (the staging buffer, large messages made native) copies nothing before the system call.
     */
    private static ByteBuffer newStaging(int capacity) {
        return ByteBuffer.allocateDirect(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Appends the header and segments of {@code message} to {@code out} (new buffers: for tests and tools). */
    static void frame(MessageBuilder message, List<ByteBuffer> out) {
        ByteBuffer[] segments = message.getSegmentsForOutput();
        int headerBytes = (4 + 4 * segments.length + 7) & ~7;
        ByteBuffer header = ByteBuffer.allocate(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0, segments.length - 1);
        for (int i = 0; i < segments.length; i++) header.putInt(4 + 4 * i, segments[i].remaining() / 8);
        out.add(header);
        for (ByteBuffer segment : segments) out.add(segment);
    }
}
