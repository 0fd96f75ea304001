package dev.bitcoinmp.interfaces;

import dev.bitcoinmp.mp.CapnpInterface;

/** Core's mining interface, named so that {@link Init#makeMining()} keeps its ordinal; no methods are served. */
@CapnpInterface(id = 0xf9c68436df3af39eL)
public interface Mining extends AutoCloseable {
    @Override
    void close();
}
