package dev.bitcoinmp.mp;

/** libmultiprocess' Thread: a thread that runs the calls whose context names it. */
@CapnpInterface(id = 0x81c1e2600d0b56c5L, name = "Thread")
public interface IpcThread extends AutoCloseable {

    @CapnpMethod(ordinal = 0, context = false)
    String getName();

    /** Releases the capability; the server thread ends once nobody holds it. */
    @Override
    void close();
}
