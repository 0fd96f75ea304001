package dev.bitcoinmp.testing;

import dev.bitcoinmp.capnp.Stream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A stream whose reader gets whole frames (standard framing) only as far as the test allows: none at
 * first, then {@link #allow(int) a number of them}, then {@link #allowAll() all}. Writes go straight through.
 */
public final class FrameGateStream implements Stream {
    private static final long WAIT_LIMIT_NANOS = 30_000_000_000L;

    private final Stream inner;
    private final Object lock = new Object();
    private int allowed;           // frames the reader may have; Integer.MAX_VALUE for all
    private int delivered;         // frames begun
    private ByteBuffer current;    // the frame being handed out, or null
    private boolean closed;

    public FrameGateStream(Stream inner) {
        this.inner = inner;
    }

    /** Lets the reader have the first {@code frames} frames in all. */
    public void allow(int frames) {
        synchronized (lock) {
            allowed = Math.max(allowed, frames);
            lock.notifyAll();
        }
    }

    public void allowAll() {
        allow(Integer.MAX_VALUE);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (current == null) {
            synchronized (lock) {
                long deadline = System.nanoTime() + WAIT_LIMIT_NANOS;
                while (delivered >= allowed && !closed) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) throw new IOException("the frame gate stayed closed");
                    try {
                        lock.wait(left / 1_000_000 + 1);
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
                if (closed) return -1;
                delivered++;
            }
            current = readFrame();
            if (current == null) return -1;
        }
        int n = Math.min(dst.remaining(), current.remaining());
        dst.put(dst.position(), current, current.position(), n);
        dst.position(dst.position() + n);
        current.position(current.position() + n);
        if (!current.hasRemaining()) current = null;
        return n;
    }

    /** The next frame, header included; null at the end of the stream before one began. */
    private ByteBuffer readFrame() throws IOException {
        ByteBuffer first = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        if (!readFully(first, true)) return null;
        int segments = first.getInt(0) + 1;
        if (segments <= 0 || segments > 512) throw new IOException("bad frame header: " + segments + " segments");
        int headerBytes = (4 + 4 * segments + 7) & ~7;
        ByteBuffer sizes = ByteBuffer.allocate(headerBytes - 4).order(ByteOrder.LITTLE_ENDIAN);
        readFully(sizes, false);
        long words = 0;
        for (int i = 0; i < segments; i++) words += Integer.toUnsignedLong(sizes.getInt(4 * i));
        if (words > 1 << 24) throw new IOException("frame too large for a test: " + words + " words");
        ByteBuffer frame = ByteBuffer.allocate(headerBytes + (int) (8 * words));
        frame.put(first.flip()).put(sizes.flip());
        readFully(frame, false);
        return frame.flip();
    }

    /** Fills {@code buffer}; false if the stream ended before the first byte (and {@code endOk}). */
    private boolean readFully(ByteBuffer buffer, boolean endOk) throws IOException {
        boolean started = false;
        while (buffer.hasRemaining()) {
            if (inner.read(buffer) < 0) {
                if (endOk && !started) return false;
                throw new EOFException("stream ended inside a frame");
            }
            started = true;
        }
        return true;
    }

    @Override
    public void write(ByteBuffer[] srcs, int count) throws IOException {
        inner.write(srcs, count);
    }

    @Override
    public void close() throws IOException {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
        inner.close();
    }
}
