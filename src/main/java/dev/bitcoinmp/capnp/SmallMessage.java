package dev.bitcoinmp.capnp;

/**
 * Outgoing and incoming messages whose member struct is a single data word without pointers: Finish and
 * Release, two of the four messages of every call. They are framed straight from their tag and data word,
 * in the layout the runtime's builder gives them (root pointer, Message, member), and read the same way:
 * no builder, reader or segment is made for them.
 */
final class SmallMessage {
    private SmallMessage() {}

    /** Header (one segment of four words) and the four words. */
    static final int FRAME_BYTES = 8 + 4 * 8;
    /** Word 0: the root pointer, to the Message right after it (one data word, one pointer). */
    static final long ROOT_POINTER = structPointer(RpcSchema.MESSAGE_WORDS, RpcSchema.MESSAGE_PTRS);
    /** Word 2: the Message's pointer to its member right after it (one data word, no pointers). */
    static final long MEMBER_POINTER = structPointer(1, 0);

    /** True for the kinds of message this layout is used for. */
    static boolean isSmallKind(short tag) {
        return tag == RpcSchema.FINISH || tag == RpcSchema.RELEASE;
    }

    /** The data word of a Finish of {@code questionId} that keeps the result capabilities (releaseResultCaps = false). */
    static long finish(int questionId) {
        // releaseResultCaps defaults to true: the bit set on the wire means false.
        return Integer.toUnsignedLong(questionId) | 1L << RpcSchema.FINISH_RELEASE_RESULT_CAPS_BIT;
    }

    /** The data word of a Release of {@code count} references to import {@code id}. */
    static long release(int id, int count) {
        return Integer.toUnsignedLong(id) | (long) count << 32;
    }

    /** A pointer to a struct that starts at the next word. */
    private static long structPointer(int dataWords, int pointers) {
        return (long) dataWords << 32 | (long) pointers << 48;
    }
}
