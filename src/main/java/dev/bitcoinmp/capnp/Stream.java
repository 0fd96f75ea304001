package dev.bitcoinmp.capnp;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A connected byte stream that carries RPC messages: one end of a socketpair, a unix socket.
 *
 * <p>One thread reads; writes are serialized by the caller; {@link #close()} may be called from any
 * thread and must wake a read blocked in another one (it then returns -1 or throws).
 */
public interface Stream extends Closeable {

    /** Reads at least one byte into {@code dst} (which has room), blocking; -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /**
     * Reads at least one byte into {@code array[offset, offset + length)} ({@code length > 0}), blocking;
     * -1 at end of stream. What the frame reader uses: implementations read into the array without a buffer
     * object per read where they can.
     */
    default int read(byte[] array, int offset, int length) throws IOException {
        return read(ByteBuffer.wrap(array, offset, length));
    }

    /** Writes every remaining byte of {@code srcs[0..count)}, in order, blocking until done. */
    void write(ByteBuffer[] srcs, int count) throws IOException;

    /** Ends the stream in both directions and frees it; idempotent; wakes a blocked reader. */
    @Override
    void close() throws IOException;
}
