package dev.bitcoinmp.capnp;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads messages in the standard (unpacked) stream framing: segment count - 1, segment sizes in words,
 * padding to a word, then the segments. Sizes are checked against the limits before any allocation;
 * each message gets one array of exactly its own size (and, beyond it, a buffer per segment and one
 * {@link InMessage}).
 */
final class FrameReader {

    private final Stream stream;
    private final ReaderLimits limits;
    private final ByteBuffer in;   // bytes read from the stream but not used yet, between position and limit

    FrameReader(Stream stream, ReaderLimits limits) {
        this.stream = stream;
        this.limits = limits;
        this.in = ByteBuffer.allocate(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
        in.limit(0);
    }

    /** Where the reader delivers messages. */
    interface Receiver {
        /** A message. */
        void message(InMessage message);

        /**
         * A Finish or Release in the layout {@link SmallMessage} writes (as any Cap'n Proto implementation
         * lays them out): its tag and its member's data word, read from the frame without any reader.
         */
        void small(short tag, long data);
    }

    /** Reads the next message and hands it to {@code receiver}; false at a clean end of stream (between messages). */
    boolean next(Receiver receiver) throws IOException {
        if (!fill(4, true)) return false;
        int segmentCount = in.getInt(in.position()) + 1;
        if (segmentCount <= 0 || segmentCount > limits.maxSegments()) {
            throw new MalformedMessageException("frame has " + Integer.toUnsignedString(segmentCount) + " segments; the limit is " + limits.maxSegments());
        }
        int headerBytes = (4 + 4 * segmentCount + 7) & ~7;
        if (headerBytes > in.capacity()) throw new MalformedMessageException("frame header too large");
        fill(headerBytes, false);
        int base = in.position();
        long totalWords = 0;
        for (int i = 0; i < segmentCount; i++) totalWords += Integer.toUnsignedLong(segmentWords(base, i));
        if (totalWords > limits.maxFrameWords()) {
            throw new MalformedMessageException("frame of " + totalWords * 8 + " bytes exceeds the limit of " + limits.maxFrameWords() * 8);
        }
        if (segmentCount == 1 && totalWords == 4) {
            if (readSmall(headerBytes, receiver)) return true;
            base = in.position();   // buffered bytes may have moved (to the start of the buffer)
        }
        byte[] body = new byte[(int) totalWords * 8];
        // One buffer over the whole body; for a message of one segment (almost all) it is the segment itself.
        ByteBuffer whole = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer first = whole;
        ByteBuffer[] others = null;
        if (segmentCount > 1) {
            first = segment(whole, 0, segmentWords(base, 0));
            others = new ByteBuffer[segmentCount - 1];
            int offset = segmentWords(base, 0) * 8;
            for (int i = 1; i < segmentCount; i++) {
                int words = segmentWords(base, i);
                others[i - 1] = segment(whole, offset, words);
                offset += words * 8;
            }
        }
        in.position(base + headerBytes);
        int have = Math.min(in.remaining(), body.length);
        in.get(body, 0, have);
        if (have < body.length) {
            whole.position(have);
            while (whole.hasRemaining()) {
                if (stream.read(whole) < 0) throw new EOFException("stream ended inside a message");
            }
            whole.position(0);
        }
        receiver.message(new InMessage(first, others, limits.traversalWords(), limits.nestingLimit()));
        return true;
    }

    /**
     * Hands the four-word message of the frame at the read position (its header {@code headerBytes} long)
     * to {@link Receiver#small} if it is a Finish or a Release in the usual layout; false (nothing consumed)
     * otherwise. Two of the four messages of every call take this way, which allocates nothing.
     */
    private boolean readSmall(int headerBytes, Receiver receiver) throws IOException {
        fill(headerBytes + 32, false);
        int body = in.position() + headerBytes;
        if (in.getLong(body) != SmallMessage.ROOT_POINTER || in.getLong(body + 16) != SmallMessage.MEMBER_POINTER) return false;
        short tag = in.getShort(body + 8);
        if (!SmallMessage.isSmallKind(tag)) return false;
        long data = in.getLong(body + 24);
        in.position(body + 32);
        receiver.small(tag, data);
        return true;
    }

    private int segmentWords(int headerBase, int index) {
        return in.getInt(headerBase + 4 + 4 * index);
    }

    /** The segment at {@code offset}: a buffer whose capacity is its size, as segment readers expect. */
    private static ByteBuffer segment(ByteBuffer whole, int offset, int words) {
        return whole.slice(offset, words * 8).order(ByteOrder.LITTLE_ENDIAN);
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
