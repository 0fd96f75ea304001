package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import org.capnproto.Allocator;
import org.capnproto.BuilderArena;
import org.capnproto.SegmentBuilder;

/**
 * Outgoing messages: built in a first segment sized by the caller, so that almost all are one segment, and
 * made with the runtime's arena but without its message builder (the same bytes, fewer objects).
 */
final class Messages {
    private Messages() {}

    private static final AnyStruct MESSAGE = AnyStruct.builderOf(RpcSchema.MESSAGE_WORDS, RpcSchema.MESSAGE_PTRS);

    /**
     * Further segments, for a message that outgrows its first one (non-ASCII text beyond its size hint,
     * say). Keeps no state, so one serves every message; the runtime's default allocator is one more
     * object per message.
     */
    private static final Allocator MORE_SEGMENTS = minimumBytes -> ByteBuffer.allocate(Math.max(minimumBytes, 2048));

    /** The words of a message whose member struct has the given size and holds {@code extraWords} more. */
    static int words(int dataWords, int pointers, int extraWords) {
        return 1 + RpcSchema.MESSAGE_WORDS + RpcSchema.MESSAGE_PTRS + dataWords + pointers + extraWords;
    }

    /** An empty message whose first segment has {@code words} words. */
    static BuilderArena newArena(int words) {
        return new BuilderArena(MORE_SEGMENTS, ByteBuffer.allocate(8 * words));
    }

    /** The words of the first segment of {@code message}. */
    static int firstSegmentWords(BuilderArena message) {
        return message.getSegment(0).buffer.capacity() / 8;
    }

    /**
     * Empties a message whose bytes are no longer needed, for reuse: its first segment zeroed where it was
     * written (as a new one is), further segments dropped.
     */
    static void clear(BuilderArena message) {
        while (message.segments.size() > 1) message.segments.remove(message.segments.size() - 1);
        SegmentBuilder first = message.getSegment(0);
        ByteBuffer buffer = first.buffer;
        if (buffer.hasArray()) {
            // As SegmentBuilder.clear, in one fill rather than a write per word.
            java.util.Arrays.fill(buffer.array(), buffer.arrayOffset(), buffer.arrayOffset() + 8 * first.currentSize(), (byte) 0);
            first.pos = 0;
        } else {
            first.clear();
        }
    }

    /** Starts the RPC message in the empty {@code message}: returns its root {@code Message}. */
    static StructOut startRoot(BuilderArena message) {
        SegmentBuilder segment = message.getSegment(0);
        segment.allocate(1);   // the root pointer, at word 0: as MessageBuilder.initRoot
        return MESSAGE.initFromPointerBuilder(segment, 0, 0);
    }

    /** Starts the RPC message of kind {@code tag} in the empty {@code message}: returns its member struct. */
    static StructOut start(BuilderArena message, short tag, int dataWords, int pointers) {
        SegmentBuilder segment = message.getSegment(0);
        if (segment.allocate(1 + RpcSchema.MESSAGE_WORDS + RpcSchema.MESSAGE_PTRS) != 0) {
            throw new IllegalArgumentException("a message needs a first segment of at least three words");
        }
        // The root pointer and the Message (its tag, its pointer to the member) as startRoot, setShort and
        // initStruct would write them, written directly: no view of the Message is made.
        segment.put(0, SmallMessage.ROOT_POINTER);
        segment.put(1, tag & 0xffffL);
        return AnyStruct.builderOf(dataWords, pointers).initFromPointerBuilder(segment, 2, 0);
    }

    /** A new RPC message of kind {@code tag} whose member holds {@code extraWords} beyond itself: returns the member. */
    static StructOut newMessage(short tag, int dataWords, int pointers, int extraWords) {
        return start(newArena(words(dataWords, pointers, extraWords)), tag, dataWords, pointers);
    }
}
