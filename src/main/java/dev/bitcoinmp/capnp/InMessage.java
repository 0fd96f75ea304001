package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import org.capnproto.Arena;
import org.capnproto.DecodeException;
import org.capnproto.SegmentReader;

/**
 * The segments of one message read from the stream, and how many more words reading it may visit (its
 * traversal limit). Does what the runtime's MessageReader and ReaderArena do, in one object instead of five
 * (reader, arena, list, its array, the segment array): this is made for every message that arrives.
 */
final class InMessage implements Arena {

    private final SegmentReader first;
    private final SegmentReader[] others;   // segments 1.., null for a message of one segment
    private long limit;
    private final int nestingLimit;
    private StructIn root;                  // made when asked for

    /** A message of segment {@code first} and, if not null, {@code others} (segments 1..). */
    InMessage(ByteBuffer first, ByteBuffer[] others, long traversalLimitWords, int nestingLimit) {
        this.first = new SegmentReader(first, this);
        if (others == null) {
            this.others = null;
        } else {
            this.others = new SegmentReader[others.length];
            for (int i = 0; i < others.length; i++) this.others[i] = new SegmentReader(others[i], this);
        }
        this.limit = traversalLimitWords;
        this.nestingLimit = nestingLimit;
    }

    /** The root struct (an empty struct when the root pointer is null). */
    StructIn root() {
        if (root == null) root = AnyStruct.READER.fromPointerReader(first, 0, nestingLimit);
        return root;
    }

    /**
     * True when the root is an RPC Message laid out as every implementation writes it: the root pointer
     * (at word 0) to a struct of one data word and one pointer right after it. Its tag and member are then
     * read without a view of the Message.
     */
    private boolean usualRoot() {
        return root == null && first.buffer.capacity() >= 24 && first.get(0) == SmallMessage.ROOT_POINTER;
    }

    /** The union tag of the root Message. */
    short tag() {
        return usualRoot() ? first.buffer.getShort(8) : root().getShort(0);
    }

    /** The member of the root Message (its pointer 0), as {@code root().getStruct(0)} gives it. */
    StructIn member() {
        if (!usualRoot()) return root().getStruct(0);
        // What reading the root would have cost and checked: its words from the traversal limit, one level
        // of nesting.
        checkReadLimit(RpcSchema.MESSAGE_WORDS + RpcSchema.MESSAGE_PTRS);
        if (nestingLimit <= 0) throw new DecodeException("Message is too deeply nested.");
        return AnyStruct.READER.fromPointerReader(first, 2, nestingLimit - 1);
    }

    @Override
    public SegmentReader tryGetSegment(int id) {
        if (id == 0) return first;
        if (others == null || id < 0 || id > others.length) {
            throw new IndexOutOfBoundsException("segment " + Integer.toUnsignedString(id) + " of a message of "
                    + (others == null ? 1 : others.length + 1));
        }
        return others[id - 1];
    }

    @Override
    public void checkReadLimit(int words) {
        // As the runtime's ReaderArena: each visit of a struct or list spends its size from the limit.
        if (words > limit) throw new DecodeException("Read limit exceeded.");
        limit -= words;
    }
}
