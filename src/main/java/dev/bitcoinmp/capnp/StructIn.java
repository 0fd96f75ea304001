package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import org.capnproto.AnyPointer;
import org.capnproto.Data;
import org.capnproto.SegmentReader;
import org.capnproto.StructReader;
import org.capnproto.Text;

/**
 * A struct being read, with field access by offset: what generated code would offer, for structs whose
 * layout is known at run time. Offsets are in units of the field's own size, as in the encoding spec.
 */
public final class StructIn extends StructReader {

    private static final long CAP_KIND = 3;

    /** The message read, when this view was made from it in place (see {@link InMessage#view}); else null. */
    private final InMessage message;

    StructIn(SegmentReader segment, int data, int pointers, int dataSize, short pointerCount, int nestingLimit) {
        this(segment, data, pointers, dataSize, pointerCount, nestingLimit, null);
    }

    StructIn(SegmentReader segment, int data, int pointers, int dataSize, short pointerCount, int nestingLimit,
             InMessage message) {
        super(segment, data, pointers, dataSize, pointerCount, nestingLimit);
        this.message = message;
    }

    public boolean getBool(int bit) { return _getBooleanField(bit); }
    public byte getByte(int offset) { return _getByteField(offset); }
    public short getShort(int offset) { return _getShortField(offset); }
    public int getInt(int offset) { return _getIntField(offset); }
    public long getLong(int offset) { return _getLongField(offset); }
    public float getFloat(int offset) { return _getFloatField(offset); }
    public double getDouble(int offset) { return _getDoubleField(offset); }

    public boolean hasPointer(int index) { return !_pointerFieldIsNull(index); }

    public String getText(int index) {
        if (_pointerFieldIsNull(index)) return "";
        if (message != null && segment == message.firstSegment()) {
            String text = message.textInPlace(pointers + index);
            if (text != null) return text;
        }
        Text.Reader text = _getPointerField(Text.factory, index, null, 0, 0);
        return Utf8.decode(text.buffer, text.offset, text.size);
    }

    /** The text, or null when the pointer is null (to tell an absent value from an empty one). */
    public String getTextOrNull(int index) {
        return _pointerFieldIsNull(index) ? null : getText(index);
    }

    public byte[] getData(int index) {
        if (_pointerFieldIsNull(index)) return new byte[0];
        Data.Reader data = _getPointerField(Data.factory, index, null, 0, 0);
        ByteBuffer buffer = data.buffer;
        byte[] bytes = new byte[data.size];
        buffer.get(data.offset, bytes);
        return bytes;
    }

    /** The struct at pointer {@code index}; an empty struct (all defaults) when the pointer is null. */
    public StructIn getStruct(int index) {
        // A near pointer within the first segment of a message read here is followed in place.
        if (message != null && segment == message.firstSegment() && nestingLimit > 0 && index < pointerCount) {
            long ref = message.struct(pointers + index);
            if (ref != InMessage.NOT_SIMPLE && ref != 0) return message.view(ref, nestingLimit - 1);
        }
        return _getPointerField(AnyStruct.READER, index);
    }

    /** A list of structs at pointer {@code index} (empty when the pointer is null). */
    public org.capnproto.StructList.Reader<StructIn> getStructList(int index) {
        return _getPointerField(AnyStruct.listOf(0, 0), index);
    }

    /** A list at pointer {@code index}, read through a list factory of the runtime. */
    public <T> T getList(org.capnproto.FromPointerReader<T> factory, int index) {
        return _getPointerField(factory, index);
    }

    /**
     * The capability-table index of the capability pointer at {@code index}, or -1 when the pointer is
     * null. A pointer of another kind is malformed input.
     */
    public int getCapIndex(int index) {
        if (index >= pointerCount) return -1;
        long word = segment.get(pointers + index);
        if (word == 0) return -1;
        if ((word & 3) != CAP_KIND || (word & 0xffff_fffcL) != 0) {
            throw new MalformedMessageException("expected a capability pointer at pointer " + index);
        }
        return (int) (word >>> 32);
    }

    /** The raw word of pointer {@code index}: 0 for a null pointer or one beyond the struct's pointers. */
    long pointerWord(int index) {
        return index < pointerCount ? segment.get(pointers + index) : 0;
    }

    /** Pointer {@code index} as it is, whatever it points to (for {@link StructOut#setAnyPointer}). */
    AnyPointer.Reader anyPointer(int index) {
        return _getPointerField(AnyPointer.factory, index);
    }

    /** How many more levels of structs and lists below this one may be read. */
    int nesting() { return nestingLimit; }

    public int dataBits() { return dataSize; }
    public int pointerCount() { return pointerCount; }
}
