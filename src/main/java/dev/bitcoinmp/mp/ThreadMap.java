package dev.bitcoinmp.mp;

/** libmultiprocess' ThreadMap: a client asks for server threads to run its calls on. */
@CapnpInterface(id = 0xee5e37179ad9dc9dL)
public interface ThreadMap extends AutoCloseable {

    @CapnpMethod(ordinal = 0, context = false)
    IpcThread makeThread(String name);

    @CapnpMethod(ordinal = 1, context = false)
    void makePool(@Unsigned int count);

    /** Releases the capability (ThreadMap has no destroy method). */
    @Override
    void close();
}
