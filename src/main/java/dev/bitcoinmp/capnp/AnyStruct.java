package dev.bitcoinmp.capnp;

import java.util.concurrent.ConcurrentHashMap;
import org.capnproto.SegmentBuilder;
import org.capnproto.SegmentReader;
import org.capnproto.StructFactory;
import org.capnproto.StructList;
import org.capnproto.StructSize;

/** The runtime's struct factory for {@link StructIn} / {@link StructOut} of a given size. */
final class AnyStruct extends StructFactory<StructOut, StructIn> {

    /** Reads any struct: the reader takes its size from the pointer. */
    static final AnyStruct READER = new AnyStruct(0, 0);
    /** Copies a struct read elsewhere; the copy keeps the source's size. */
    static final AnyStruct READER_COPY = READER;

    private static final ConcurrentHashMap<Integer, AnyStruct> BY_SIZE = new ConcurrentHashMap<>();
    private static final ConcurrentHashMap<Integer, StructList.Factory<StructOut, StructIn>> LISTS =
            new ConcurrentHashMap<>();

    private final StructSize size;

    private AnyStruct(int dataWords, int pointerCount) {
        this.size = new StructSize((short) dataWords, (short) pointerCount);
    }

    /** Factories for the small sizes almost every struct has, made once: no lookup garbage per message. */
    private static final AnyStruct[][] SMALL = new AnyStruct[16][16];

    static {
        for (int d = 0; d < 16; d++) for (int p = 0; p < 16; p++) SMALL[d][p] = new AnyStruct(d, p);
    }

    static AnyStruct builderOf(int dataWords, int pointerCount) {
        if (dataWords < 16 && pointerCount < 16) return SMALL[dataWords][pointerCount];
        return BY_SIZE.computeIfAbsent(dataWords << 16 | pointerCount, k -> new AnyStruct(dataWords, pointerCount));
    }

    static StructList.Factory<StructOut, StructIn> listOf(int dataWords, int pointerCount) {
        return LISTS.computeIfAbsent(dataWords << 16 | pointerCount,
                k -> StructList.newFactory(builderOf(dataWords, pointerCount)));
    }

    @Override
    public StructIn constructReader(SegmentReader segment, int data, int pointers, int dataSize,
                                    short pointerCount, int nestingLimit) {
        return new StructIn(segment, data, pointers, dataSize, pointerCount, nestingLimit);
    }

    @Override
    public StructOut constructBuilder(SegmentBuilder segment, int data, int pointers, int dataSize,
                                      short pointerCount) {
        return new StructOut(segment, data, pointers, dataSize, pointerCount);
    }

    @Override
    public StructSize structSize() {
        return size;
    }

    @Override
    public StructIn asReader(StructOut builder) {
        return builder.asReader();
    }
}
