package dev.bitcoinmp.testing;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;
import java.util.List;

@CapnpInterface(id = 0xb312e3f1263e674aL)
public interface Calculator extends AutoCloseable {
    @CapnpMethod(ordinal = 0)
    @Override
    void close();

    /** Sums comma-separated integers, printing each partial sum on {@code printer} first. */
    @CapnpMethod(ordinal = 1)
    long solve(String terms, Printer printer);

    @CapnpMethod(ordinal = 2)
    Mixed bump(Mixed value);

    @CapnpMethod(ordinal = 3)
    List<Integer> reverse(List<Integer> values);
}
