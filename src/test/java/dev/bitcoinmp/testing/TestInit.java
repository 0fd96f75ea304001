package dev.bitcoinmp.testing;

import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.mp.CapnpInterface;
import dev.bitcoinmp.mp.CapnpMethod;

/** src/test/capnp/test.capnp's TestInit: Core's Init plus a calculator for callback tests. */
@CapnpInterface(id = 0x91ebcb15731081b3L)
public interface TestInit extends Init {
    @CapnpMethod(ordinal = 0)
    Calculator makeCalculator();
}
