package dev.bitcoinmp.capnp;

import java.util.List;
import org.capnproto.AnyPointer;
import org.capnproto.BuilderArena;
import org.capnproto.Data;
import org.capnproto.PrimitiveList;
import org.capnproto.SegmentBuilder;
import org.capnproto.StructBuilder;
import org.capnproto.Text;
import org.capnproto.TextList;

/** A struct being built, with field access by offset; see {@link StructIn}. */
public final class StructOut extends StructBuilder {

    /** Long texts go into segments of their own (see {@link TextSegments}): set for messages a connection reuses. */
    boolean textSegments;

    StructOut(SegmentBuilder segment, int data, int pointers, int dataSize, short pointerCount) {
        super(segment, data, pointers, dataSize, pointerCount);
    }

    /**
     * What a Text value needs in the message beyond its pointer, in bytes, as a size hint for the message's
     * first segment: nothing for a text long enough for a segment of its own (see {@link TextSegments}).
     */
    public static int textSizeHint(String value) {
        if (value == null || value.length() >= TextSegments.MIN_CHARS) return 0;
        // Exact for ASCII (with the NUL, to a whole word); longer UTF-8 text spills into a second segment
        // rather than over-allocating.
        return (value.length() + 8) & ~7;
    }

    public void setBool(int bit, boolean value) { _setBooleanField(bit, value); }
    public void setByte(int offset, byte value) { _setByteField(offset, value); }
    public void setShort(int offset, short value) { _setShortField(offset, value); }
    public void setInt(int offset, int value) { _setIntField(offset, value); }
    public void setLong(int offset, long value) { _setLongField(offset, value); }
    public void setFloat(int offset, float value) { _setFloatField(offset, value); }
    public void setDouble(int offset, double value) { _setDoubleField(offset, value); }

    public int getInt(int offset) { return _getIntField(offset); }

    /** Sets a Text field; null leaves the pointer null. */
    public void setText(int index, String value) {
        if (value == null) return;
        // ASCII text is encoded straight into the message: no array of the bytes first.
        if (Utf8.isShortAscii(value)) {
            Text.Builder text = _initPointerField(Text.factory, index, value.length());
            Utf8.putAscii(value, text.buffer, text.offset);
            return;
        }
        if (textSegments && value.length() >= TextSegments.MIN_CHARS && index < pointerCount
                && segment.get(pointers + index) == 0 && TextSegments.put((SegmentBuilder) segment, pointers + index, value)) {
            return;
        }
        if (!Utf8.isShort(value)) {
            Text.Builder text = _initPointerField(Text.factory, index, value.length());
            if (Utf8.tryPutAscii(value, text.buffer, text.offset)) return;
            // Not ASCII: written again below at its encoded size (the runtime clears this first attempt).
        }
        byte[] bytes = Utf8.encode(value);
        Text.Builder text = _initPointerField(Text.factory, index, bytes.length);
        text.buffer.put(text.offset, bytes);
    }

    public void setData(int index, byte[] value) {
        if (value == null) return;
        Data.Builder data = _initPointerField(Data.factory, index, value.length);
        data.buffer.put(data.offset, value);
    }

    public StructOut initStruct(int index, int dataWords, int pointerCount) {
        StructOut struct = _initPointerField(AnyStruct.builderOf(dataWords, pointerCount), index, 0);
        struct.textSegments = textSegments;
        return struct;
    }

    public <T> T initList(org.capnproto.FromPointerBuilder<T> factory, int index, int size) {
        return _initPointerField(factory, index, size);
    }

    /** Copies a struct (and everything under it) read from another message into pointer {@code index}. */
    public void setStruct(int index, StructIn value) {
        _setPointerField(AnyStruct.READER_COPY, index, value);
    }

    /**
     * Copies what {@code value} points to into pointer {@code index}, with the runtime's copy: it fails on
     * capability pointers (see {@link PayloadCopy}).
     */
    void setAnyPointer(int index, AnyPointer.Reader value) {
        _setPointerField(AnyPointer.factory, index, value);
    }

    /** Makes pointer {@code index} null. */
    void clearPointer(int index) {
        _clearPointerField(index);
    }

    public void setTextList(int index, List<String> values) {
        TextList.Builder list = _initPointerField(TextList.factory, index, values.size());
        for (int i = 0; i < values.size(); i++) list.set(i, new Text.Reader(values.get(i)));
    }

    public org.capnproto.StructList.Builder<StructOut> initStructList(int index, int size, int dataWords, int pointerCount) {
        return _initPointerField(AnyStruct.listOf(dataWords, pointerCount), index, size);
    }

    public PrimitiveList.Long.Builder initLongList(int index, int size) {
        return _initPointerField(PrimitiveList.Long.factory, index, size);
    }

    /** Writes a capability pointer naming entry {@code capIndex} of the message's capability table. */
    public void setCapIndex(int index, int capIndex) {
        if (index >= pointerCount) throw new IndexOutOfBoundsException("pointer " + index);
        ((SegmentBuilder) segment).put(pointers + index, ((long) capIndex << 32) | 3L);
    }

    /** A read view of what was written so far. */
    public StructIn asReader() {
        return new StructIn(segment, data, pointers, dataSize, pointerCount, Integer.MAX_VALUE);
    }

    /** The message this struct is part of, as the writer sends it. */
    BuilderArena arena() {
        return segment.getArena();
    }

    /** The segment this struct is in. */
    SegmentBuilder segmentBuilder() {
        return segment;
    }

    /** The word of that segment where this struct's data section starts. */
    int dataWord() {
        return data / 8;
    }

    public int dataWords() { return dataSize / 64; }
    public int pointerCount() { return pointerCount; }
}
