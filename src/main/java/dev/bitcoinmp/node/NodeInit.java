package dev.bitcoinmp.node;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;

/** What a node process serves as its {@link Init}: {@code makeEcho} gives an object that echoes here. */
final class NodeInit implements Init {

    @Override
    public Echo makeEcho() {
        return new LocalEcho();
    }

    /** Core's EchoImpl: gives back its argument. */
    static final class LocalEcho implements Echo {
        @Override
        public String echo(String echo) {
            return echo;
        }

        @Override
        public void close() {}
    }
}
