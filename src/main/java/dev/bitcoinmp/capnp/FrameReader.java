package dev.bitcoinmp.capnp;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.capnproto.MessageReader;
import org.capnproto.ReaderOptions;

/**
 * Reads messages in the standard (unpacked) stream framing: segment count - 1, segment sizes in words,
 * padding to a word, then the segments. Sizes are checked against the limits before any allocation;
 * each message gets one array of exactly its own size.
 */
final class FrameReader {

    private final Stream stream;
    private final ReaderLimits limits;
    private final ReaderOptions options;
    private final ByteBuffer in;   // bytes read from the stream but not used yet, between position and limit

    FrameReader(Stream stream, ReaderLimits limits) {
        this.stream = stream;
        this.limits = limits;
        this.options = new ReaderOptions(limits.traversalWords(), limits.nestingLimit());
        this.in = ByteBuffer.allocate(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
        in.limit(0);
    }

    /** The next message, or null at a clean end of stream (between messages). */
    MessageReader next() throws IOException {
        if (!fill(4, true)) return null;
        int segmentCount = in.getInt(in.position()) + 1;
        if (segmentCount <= 0 || segmentCount > limits.maxSegments()) {
            throw new MalformedMessageException("frame has " + Integer.toUnsignedString(segmentCount) + " segments; the limit is " + limits.maxSegments());
        }
        int headerBytes = (4 + 4 * segmentCount + 7) & ~7;
        if (headerBytes > in.capacity()) throw new MalformedMessageException("frame header too large");
        fill(headerBytes, false);
        int base = in.position();
        int[] sizes = new int[segmentCount];
        long totalWords = 0;
        for (int i = 0; i < segmentCount; i++) {
            sizes[i] = in.getInt(base + 4 + 4 * i);
            totalWords += Integer.toUnsignedLong(sizes[i]);
        }
        if (totalWords > limits.maxFrameWords()) {
            throw new MalformedMessageException("frame of " + totalWords * 8 + " bytes exceeds the limit of " + limits.maxFrameWords() * 8);
        }
        in.position(base + headerBytes);
        byte[] body = new byte[(int) totalWords * 8];
        int have = Math.min(in.remaining(), body.length);
        in.get(body, 0, have);
        ByteBuffer rest = ByteBuffer.wrap(body, have, body.length - have);
        while (rest.hasRemaining()) {
            if (stream.read(rest) < 0) throw new EOFException("stream ended inside a message");
        }
        ByteBuffer[] segments = new ByteBuffer[segmentCount];
        int offset = 0;
        for (int i = 0; i < segmentCount; i++) {
            segments[i] = ByteBuffer.wrap(body, offset, sizes[i] * 8).slice().order(ByteOrder.LITTLE_ENDIAN);
            offset += sizes[i] * 8;
        }
        try {
            return new MessageReader(segments, options);
        } catch (RuntimeException e) {
            throw new MalformedMessageException("bad message: " + e.getMessage());
        }
    }

    /** Ensures {@code n} unread bytes are buffered; false at a clean end of stream if allowed. */
    private boolean fill(int n, boolean cleanEofAllowed) throws IOException {
        if (in.remaining() >= n) return true;
        in.compact();
        try {
            while (in.position() < n) {
                if (stream.read(in) < 0) {
                    if (cleanEofAllowed && in.position() == 0) return false;
                    throw new EOFException("stream ended inside a message");
                }
            }
        } finally {
            in.flip();
        }
        return true;
    }
}
