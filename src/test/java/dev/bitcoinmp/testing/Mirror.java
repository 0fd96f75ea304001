package dev.bitcoinmp.testing;

import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;

/** src/test/capnp/test.capnp's Mirror: returns the printer it is given (see MirrorServers for its raw servers). */
@CapnpInterface(id = 0xa4c70aaa480d05a9L)
public interface Mirror {
    @CapnpMethod(ordinal = 0, context = false)
    Printer reflect(Printer printer);
}
