package dev.bitcoinmp.testing;

import dev.bitcoinmp.mp.Unsigned;

/** test.capnp's Mixed: primitive fields of every size, to check data-section packing. */
public record Mixed(boolean flag, byte small, @Unsigned int count, long big, String name, double ratio,
                    boolean other, short medium, byte[] blob, float fraction) {

    /** What Calculator.bump returns for this value. */
    public Mixed bumped() {
        byte[] reversed = new byte[blob.length];
        for (int i = 0; i < blob.length; i++) reversed[i] = blob[blob.length - 1 - i];
        return new Mixed(!flag, (byte) (small + 1), count + 1, big + 1, name + "!", ratio + 1, !other,
                (short) (medium + 1), reversed, fraction + 1);
    }
}
