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

    // ---- The envelope read in place. An RPC message's envelope (Message, Call or Return, target, payload,
    // capability table) is read without a view object per struct: a struct is a packed reference (its word
    // in the first segment, its data words, its pointer count), found through near pointers of the first
    // segment, each bounds checked and charged to the traversal limit as the runtime's readers do. Anything
    // else (far pointers, other segments, pointers of another kind) is NOT_SIMPLE: the caller reads that
    // message with the runtime's readers instead, which handle or reject it.

    /** A struct reference for what the runtime reads otherwise. */
    static final long NOT_SIMPLE = -1L;
    /** The nesting the envelope needs at most (Message, Call, payload, capability table, descriptor, answer). */
    private static final int ENVELOPE_NESTING = 8;

    /** True when the envelope may be read in place (the nesting limit leaves room for it). */
    boolean inPlace() {
        return nestingLimit >= ENVELOPE_NESTING && firstBytes >= 16;
    }

    /** The RPC Message, as a struct reference (the root pointer at word 0). */
    long rootStruct() {
        return struct(0);
    }

    /**
     * The struct the pointer at word {@code at} of the first segment points to: a reference, 0 for a null
     * pointer (an empty struct: every field reads as its default), or NOT_SIMPLE.
     */
    long struct(int at) {
        if (at < 0) return 0L;  // an absent pointer (beyond the struct's pointer section) reads as null
        long w = firstView.getLong(8 * at);
        if (w == 0) return 0L;
        if ((w & 3) != 0) return NOT_SIMPLE;
        long target = at + 1L + ((int) w >> 2);
        int data = (int) (w >>> 32) & 0xffff;
        int ptrs = (int) (w >>> 48);
        if (target < 0 || target + data + ptrs > firstBytes >>> 3) return NOT_SIMPLE;
        checkReadLimit(data + ptrs);
        return target | (long) data << 32 | (long) ptrs << 48;
    }

    static int word(long ref) { return (int) ref; }
    static int dataWords(long ref) { return (int) (ref >>> 32) & 0xffff; }
    static int pointerCount(long ref) { return (int) (ref >>> 48); }

    /** The word of pointer {@code index} of the struct {@code ref}, or -1 when it has no such pointer (null). */
    static int pointer(long ref, int index) {
        return index < pointerCount(ref) ? word(ref) + dataWords(ref) + index : -1;
    }

    /** The struct at pointer {@code index} of struct {@code ref} (see {@link #struct(int)}). */
    long structField(long ref, int index) {
        return struct(pointer(ref, index));
    }

    int getInt(long ref, int offset) {
        return 4 * (offset + 1) <= 8 * dataWords(ref) ? firstView.getInt(8 * word(ref) + 4 * offset) : 0;
    }

    short getShort(long ref, int offset) {
        return 2 * (offset + 1) <= 8 * dataWords(ref) ? firstView.getShort(8 * word(ref) + 2 * offset) : 0;
    }

    long getLong(long ref, int offset) {
        return 8 * (offset + 1) <= 8 * dataWords(ref) ? firstView.getLong(8 * word(ref) + 8 * offset) : 0;
    }

    boolean getBool(long ref, int bit) {
        return bit < 64 * dataWords(ref) && (firstView.get(8 * word(ref) + bit / 8) & 1 << bit % 8) != 0;
    }

    /** True when pointer {@code index} of struct {@code ref} is not null. */
    boolean hasPointer(long ref, int index) {
        int at = pointer(ref, index);
        return at >= 0 && firstView.getLong(8 * at) != 0;
    }

    /**
     * A view of struct {@code ref} (not NOT_SIMPLE) with the nesting limit {@code nesting} (that of the struct
     * holding the pointer, less one), for the reader of its fields: as the runtime's readers would make it.
     */
    StructIn view(long ref, int nesting) {
        int at = word(ref);
        int data = dataWords(ref);
        return new StructIn(first, 8 * at, at + data, 64 * data, (short) pointerCount(ref), nesting, this);
    }

    /** The view of struct {@code ref}, {@code depth} levels below the root (the root Message is depth 0). */
    StructIn viewAtDepth(long ref, int depth) {
        return view(ref, nestingLimit - 1 - depth);
    }

    SegmentReader firstSegment() {
        return first;
    }

    /**
     * The list of structs (inline composite) the pointer at word {@code at} of the first segment points to:
     * its first element's word, its element count (up to 0xffff) and element size, packed as a struct
     * reference whose word is the first element's and whose data and pointer counts are each element's,
     * with the count in {@code count[0]}; 0 for a null pointer (an empty list), or NOT_SIMPLE.
     */
    long structList(int at, int[] count) {
        count[0] = 0;
        if (at < 0) return 0L;
        long w = firstView.getLong(8 * at);
        if (w == 0) return 0L;
        if ((w & 3) != 1 || (w >>> 32 & 7) != 7) return NOT_SIMPLE;
        long tagWord = at + 1L + ((int) w >> 2);
        long words = w >>> 35;
        if (tagWord < 0 || tagWord + 1 + words > firstBytes >>> 3) return NOT_SIMPLE;
        long tag = firstView.getLong(8 * (int) tagWord);
        if ((tag & 3) != 0) return NOT_SIMPLE;
        int n = (int) tag >>> 2;
        int data = (int) (tag >>> 32) & 0xffff;
        int ptrs = (int) (tag >>> 48);
        if (n > 0xffff || (long) n * (data + ptrs) > words) return NOT_SIMPLE;
        checkReadLimit((int) words + 1);
        count[0] = n;
        return (tagWord + 1) | (long) data << 32 | (long) ptrs << 48;
    }

    /**
     * The Text the pointer at word {@code at} of the first segment points to, decoded, if it is a list of
     * bytes in that segment ending in its NUL; null (for the runtime's readers) for anything else.
     */
    String textInPlace(int at) {
        long w = firstView.getLong(8 * at);
        if ((w & 3) != 1 || (w >>> 32 & 7) != 2) return null;
        long start = at + 1L + ((int) w >> 2);
        long count = w >>> 35;
        long words = (count + 7) / 8;
        if (count == 0 || start < 0 || start + words > firstBytes >>> 3 || array[(int) (8 * start + count - 1)] != 0) return null;
        checkReadLimit((int) words);
        return Utf8.decode(array, (int) (8 * start), (int) count - 1);
    }

    /** Element {@code index} of a list from {@link #structList}. */
    static long element(long list, int index) {
        return list + (long) index * (dataWords(list) + pointerCount(list));
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
