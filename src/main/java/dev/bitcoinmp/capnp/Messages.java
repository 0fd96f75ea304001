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

    /**
     * An empty message whose first segment has {@code words} words in native memory: for a large message that
     * is kept for reuse, so that it is written to the stream from where it is (no copy into a native buffer
     * first). Making one costs more than a heap one; reusing it costs nothing.
     */
    static BuilderArena newDirectArena(int words) {
        return new BuilderArena(MORE_SEGMENTS, ByteBuffer.allocateDirect(8 * words).order(java.nio.ByteOrder.LITTLE_ENDIAN));
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
        while (message.segments.size() > 1) {
            ByteBuffer dropped = message.segments.remove(message.segments.size() - 1).buffer;
            // Further segments are heap buffers (see MORE_SEGMENTS) but for long texts' (see TextSegments).
            if (dropped.isDirect()) TextSegments.giveBack(dropped);
        }
        SegmentBuilder first = message.getSegment(0);
        ByteBuffer buffer = first.buffer;
        // As SegmentBuilder.clear, in one fill rather than a write per word.
        int bytes = 8 * first.currentSize();
        if (buffer.hasArray()) {
            java.util.Arrays.fill(buffer.array(), buffer.arrayOffset(), buffer.arrayOffset() + bytes, (byte) 0);
        } else {
            java.lang.foreign.MemorySegment.ofBuffer(buffer).asSlice(0, bytes).fill((byte) 0);
        }
        first.pos = 0;
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

    // Envelopes written word by word. The structs of an RPC message's envelope (Message, Call or Return,
    // target, payload) have fixed sizes and are laid out one after the other at the start of the first
    // segment, with the same pointers the runtime's builders would write, but without a builder object for
    // each: only the struct the caller fills (parameters, results) gets one.

    /** A struct pointer at word {@code from} to a struct of the given size at word {@code to} of the same segment. */
    static long structPointer(int from, int to, int dataWords, int pointers) {
        return (((long) (to - from - 1) << 2) & 0xffff_ffffL) | (long) dataWords << 32 | (long) pointers << 48;
    }

    /** Word of the member struct in an envelope written by {@link #startRaw}. */
    static final int MEMBER_WORD = 1 + RpcSchema.MESSAGE_WORDS + RpcSchema.MESSAGE_PTRS;

    /**
     * Starts the RPC message of kind {@code tag} in the empty {@code message}, reserving {@code words} words
     * (the member struct at {@link #MEMBER_WORD} and what the caller lays out after it); returns its first
     * segment.
     */
    static SegmentBuilder startRaw(BuilderArena message, short tag, int dataWords, int pointers, int words) {
        SegmentBuilder segment = message.getSegment(0);
        if (segment.allocate(words) != 0) {
            throw new IllegalArgumentException("a message needs a first segment of at least " + words + " words");
        }
        segment.put(0, SmallMessage.ROOT_POINTER);
        segment.put(1, tag & 0xffffL);
        segment.put(2, structPointer(2, MEMBER_WORD, dataWords, pointers));
        return segment;
    }

    /**
     * Writes a struct pointer at pointer {@code index} of the struct whose pointers start at word {@code pointers},
     * to a struct of the given size at word {@code to}.
     */
    static void pointTo(SegmentBuilder segment, int pointers, int index, int to, int dataWords, int pointerCount) {
        segment.put(pointers + index, structPointer(pointers + index, to, dataWords, pointerCount));
    }

    /** A builder view of the struct of the given size at word {@code at} of {@code segment}. */
    static StructOut view(SegmentBuilder segment, int at, int dataWords, int pointers) {
        return new StructOut(segment, at * 8, at + dataWords, dataWords * 64, (short) pointers);
    }

    /**
     * As {@link #view}, for the parameters or results of a message that a connection reuses once written:
     * long texts written through it get segments of their own (see {@link TextSegments}).
     */
    static StructOut reusedView(SegmentBuilder segment, int at, int dataWords, int pointers) {
        StructOut view = view(segment, at, dataWords, pointers);
        view.textSegments = true;
        return view;
    }

    /**
     * Writes an empty list of {@code count} structs of the given size for the pointer at word {@code pointer}
     * of {@code message}'s first segment, in that segment; returns the word of the first element, or -1 when
     * the list does not fit there (or the message has more segments), for the caller to use the runtime instead.
     */
    static int structListRaw(BuilderArena message, int pointer, int count, int dataWords, int pointers) {
        if (message.segments.size() != 1) return -1;
        SegmentBuilder segment = message.getSegment(0);
        int elementWords = dataWords + pointers;
        int at = segment.allocate(1 + count * elementWords);
        if (at == SegmentBuilder.FAILED_ALLOCATION) return -1;
        // The list pointer (inline composite: element size 7, count in words), then the tag word: a struct
        // pointer whose offset field is the element count.
        segment.put(pointer, (((long) (at - pointer - 1) << 2 | 1) & 0xffff_ffffL) | 7L << 32 | (long) (count * elementWords) << 35);
        segment.put(at, ((long) count << 2) | (long) dataWords << 32 | (long) pointers << 48);
        return at + 1;
    }

    /** A new RPC message of kind {@code tag} whose member holds {@code extraWords} beyond itself: returns the member. */
    static StructOut newMessage(short tag, int dataWords, int pointers, int extraWords) {
        return start(newArena(words(dataWords, pointers, extraWords)), tag, dataWords, pointers);
    }
}
