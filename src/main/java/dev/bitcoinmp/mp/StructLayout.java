package dev.bitcoinmp.mp;

/**
 * Places struct fields as the capnp compiler does: fields in ordinal order, each data field in the first
 * hole of its size left by earlier fields (holes of 1, 2, 4, ... 32 bits, split from larger ones), else in
 * a new data word; pointers in order.
 */
final class StructLayout {

    private final long[] holes = new long[6];   // holes[lg]: offset (in units of 2^lg bits) of a free slot, 0 = none
    private int dataWords;
    private int pointers;

    /** Allocates a data field of {@code 2^lgBits} bits; returns its offset in units of its own size. */
    int addData(int lgBits) {
        long hole = tryAllocate(lgBits);
        if (hole != 0) return (int) hole;
        int offset = dataWords++ << (6 - lgBits);
        addHolesAtEnd(lgBits, offset + 1);
        return offset;
    }

    int addPointer() {
        return pointers++;
    }

    int dataWords() {
        return dataWords;
    }

    int pointers() {
        return pointers;
    }

    private long tryAllocate(int lgBits) {
        if (lgBits >= holes.length) return 0;
        if (holes[lgBits] != 0) {
            long result = holes[lgBits];
            holes[lgBits] = 0;
            return result;
        }
        long next = tryAllocate(lgBits + 1);
        if (next == 0) return 0;
        long result = next * 2;
        holes[lgBits] = result + 1;
        return result;
    }

    private void addHolesAtEnd(int lgBits, long offset) {
        while (lgBits < holes.length) {
            holes[lgBits] = offset;
            lgBits++;
            offset = (offset + 1) / 2;
        }
    }
}
