package dev.bitcoinmp.testing;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;

@CapnpInterface(id = 0xd6f3f596c12bd3d8L)
public interface Printer extends AutoCloseable {
    @CapnpMethod(ordinal = 0)
    @Override
    void close();

    @CapnpMethod(ordinal = 1)
    void print(String text);
}
