package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.capnproto.Arena;
import org.capnproto.DecodeException;
import org.capnproto.SegmentReader;

/**
 * The segments of one message read from the stream, and how many more words reading it may visit (its
 * traversal limit). Does what the runtime's MessageReader and ReaderArena do, in one object instead of five
 * (reader, arena, list, its array, the segment array).
 *
 * <p>An InMessage and its array are reused for later messages of the same connection once whoever owns the
 * message {@link #release() releases} it (see {@link FrameReader}): the reader thread for the messages it
 * handles itself, the incoming call once it is answered (its parameters), the pending call once its response
 * is closed (its results). After that nothing read from it may be used. A message that is never released is
 * left to the garbage collector: releasing is an optimization, never needed for correctness.
 */
final class InMessage implements Arena {

    private final FrameReader owner;       // where a released message goes back to; null: not reused
    final byte[] array;                    // the frame's body (all segments, in order) at its start
    private ByteBuffer firstView;          // segment 0: exactly its size, as the runtime's bounds checks need
    private SegmentReader first;
    private int firstBytes = -1;           // the size firstView and first were made for
    private SegmentReader[] others;        // segments 1.., null for a message of one segment
    private long limit;
    private int nestingLimit;
    private StructIn root;                 // made when asked for
    private boolean inUse;                 // between FrameReader's take and release; guarded by owner's pool

    /** A message of {@code capacity} bytes at most; {@code owner} takes it back once released (may be null). */
    InMessage(FrameReader owner, int capacity) {
        this.owner = owner;
        this.array = new byte[capacity];
    }

    int capacity() {
        return array.length;
    }

    boolean inUse() {
        return inUse;
    }

    void setInUse(boolean value) {
        inUse = value;
    }

    /**
     * Makes this the message whose body (already in {@link #array}) has segments of {@code segmentWords[0..count)}
     * words, with fresh reading limits.
     */
    void setUp(int[] segmentWords, int count, ReaderLimits limits) {
        int bytes0 = segmentWords[0] * 8;
        if (bytes0 != firstBytes) {
            firstView = ByteBuffer.wrap(array).slice(0, bytes0).order(ByteOrder.LITTLE_ENDIAN);
            first = new SegmentReader(firstView, this);
            firstBytes = bytes0;
        }
        if (count == 1) {
            others = null;
        } else {
            others = new SegmentReader[count - 1];
            int offset = bytes0;
            for (int i = 1; i < count; i++) {
                int bytes = segmentWords[i] * 8;
                others[i - 1] = new SegmentReader(ByteBuffer.wrap(array).slice(offset, bytes).order(ByteOrder.LITTLE_ENDIAN), this);
                offset += bytes;
            }
        }
        limit = limits.traversalWords();
        nestingLimit = limits.nestingLimit();
        root = null;
    }

    /** Gives the message back for reuse: nothing read from it may be used after this. Idempotent. */
    void release() {
        if (owner != null) owner.giveBack(this);
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
        return root == null && firstBytes >= 24 && first.get(0) == SmallMessage.ROOT_POINTER;
    }

    /** The union tag of the root Message. */
    short tag() {
        return usualRoot() ? firstView.getShort(8) : root().getShort(0);
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
