package dev.bitcoinmp.interfaces;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;

/** Core's test interface: gives back what it is given. Closing it destroys it. */
@CapnpInterface(id = 0xd36b89640dc94399L)
public interface Echo extends AutoCloseable {

    @CapnpMethod(ordinal = 0)
    @Override
    void close();

    @CapnpMethod(ordinal = 1)
    String echo(String echo);
}
