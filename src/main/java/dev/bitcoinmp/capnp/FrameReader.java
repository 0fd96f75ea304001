package dev.bitcoinmp.capnp;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads messages in the standard (unpacked) stream framing: segment count - 1, segment sizes in words,
 * padding to a word, then the segments. Sizes are checked against the limits before any allocation.
 *
 * <p>Each message is read into an {@link InMessage} whose array is reused: messages that were
 * {@link InMessage#release() released} are kept (a bounded number and size of them) and the next message
 * that fits is read into one of them, overwriting it whole, so that reading a message allocates nothing
 * once the connection has run for a while, and a large one costs no zeroing of a new array.
 */
final class FrameReader {

    private final Stream stream;
    private final ReaderLimits limits;
    private final ByteBuffer in;   // bytes read from the stream but not used yet, between position and limit
    private int[] sizes = new int[8];   // segment sizes in words of the frame being read (reader thread only)

    /**
     * Bytes read ahead: several small messages come in one read, and at most this much of a large one is
     * copied twice (from here into its array; the rest is read into its array directly).
     */
    private static final int READ_AHEAD = 4 * 1024;

    // Released messages kept for reuse; guarded by `free`.
    private static final int MAX_KEPT = 32;
    private static final long MAX_KEPT_BYTES = 4L << 20;
    /** Messages larger than this are never kept. */
    private static final int MAX_KEPT_MESSAGE = 1 << 20;
    /** The smallest array made for a message (so that one serves messages of somewhat different sizes). */
    private static final int MIN_ARRAY = 256;
    private final InMessage[] free = new InMessage[MAX_KEPT];
    private int freeCount;
    private long freeBytes;

    FrameReader(Stream stream, ReaderLimits limits) {
        this.stream = stream;
        this.limits = limits;
        // Room for the largest header the limits allow (up to 64 KiB, as before).
        int largestHeader = (int) Math.min(64 * 1024, (4 + 4L * limits.maxSegments() + 7) & ~7);
        this.in = ByteBuffer.allocate(Math.max(READ_AHEAD, largestHeader)).order(ByteOrder.LITTLE_ENDIAN);
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

    /** How many bytes were read from the stream but not handed out yet (the start of the messages that follow). */
    int buffered() {
        return in.remaining();
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
        if (sizes.length < segmentCount) sizes = new int[Math.max(segmentCount, 2 * sizes.length)];
        for (int i = 0; i < segmentCount; i++) sizes[i] = segmentWords(base, i);
        int bytes = (int) totalWords * 8;
        InMessage message = take(bytes);
        in.position(base + headerBytes);
        int have = Math.min(in.remaining(), bytes);
        in.get(message.array, 0, have);
        if (have < bytes) Waiter.flushDeferred();
        while (have < bytes) {
            int n = stream.read(message.array, have, bytes - have);
            if (n < 0) throw new EOFException("stream ended inside a message");
            have += n;
        }
        message.setUp(sizes, segmentCount, limits);
        receiver.message(message);
        return true;
    }

    /** A message of at least {@code bytes} bytes: a kept one (the smallest that fits), or a new one. */
    private InMessage take(int bytes) {
        synchronized (free) {
            int best = -1;
            for (int i = 0; i < freeCount; i++) {
                InMessage m = free[i];
                if (m.capacity() < bytes) continue;
                if (best < 0 || m.capacity() < free[best].capacity()) best = i;
            }
            if (best >= 0) {
                InMessage m = free[best];
                free[best] = free[--freeCount];
                free[freeCount] = null;
                freeBytes -= m.capacity();
                m.setInUse(true);
                return m;
            }
        }
        int capacity = bytes > MAX_KEPT_MESSAGE ? bytes : Math.max(MIN_ARRAY, Integer.highestOneBit(Math.max(1, bytes - 1)) << 1);
        InMessage m = new InMessage(this, capacity);
        m.setInUse(true);
        return m;
    }

    /** Takes back a released message (see {@link InMessage#release()}); kept if within the bounds. */
    void giveBack(InMessage message) {
        synchronized (free) {
            if (!message.inUse()) return;
            message.setInUse(false);
            int capacity = message.capacity();
            if (capacity > MAX_KEPT_MESSAGE || freeCount == MAX_KEPT || freeBytes + capacity > MAX_KEPT_BYTES) return;
            free[freeCount++] = message;
            freeBytes += capacity;
        }
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

    /** Ensures {@code n} unread bytes are buffered; false at a clean end of stream if allowed. */
    private boolean fill(int n, boolean cleanEofAllowed) throws IOException {
        if (in.remaining() >= n) return true;
        Waiter.flushDeferred();   // before a read that may wait
        in.compact();
        try {
            while (in.position() < n) {
                int got = stream.read(in.array(), in.position(), in.remaining());
                if (got < 0) {
                    if (cleanEofAllowed && in.position() == 0) return false;
                    throw new EOFException("stream ended inside a message");
                }
                in.position(in.position() + got);
            }
        } finally {
            in.flip();
        }
        return true;
    }
}
