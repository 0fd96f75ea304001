package dev.bitcoinmp.capnp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.capnproto.MessageBuilder;

/** Turns messages into the buffers of the standard stream framing, header first. */
final class FrameWriter {
    private FrameWriter() {}

    /** Appends the header and segments of {@code message} to {@code out}. */
    static void frame(MessageBuilder message, List<ByteBuffer> out) {
        frame(message, out, null);
    }

    /**
     * Appends the header and segments of {@code message} to {@code out}, writing the header into
     * {@code reuse} when it is large enough (a writer keeps a few for the messages of one write).
     */
    static ByteBuffer frame(MessageBuilder message, List<ByteBuffer> out, ByteBuffer reuse) {
        ByteBuffer[] segments = message.getSegmentsForOutput();
        int headerBytes = (4 + 4 * segments.length + 7) & ~7;
        ByteBuffer header = reuse != null && reuse.capacity() >= headerBytes ? reuse.clear().limit(headerBytes)
                : ByteBuffer.allocate(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0, segments.length - 1);
        for (int i = 0; i < segments.length; i++) {
            header.putInt(4 + 4 * i, segments[i].remaining() / 8);
        }
        out.add(header);
        for (ByteBuffer segment : segments) out.add(segment);
        return header;
    }
}
