package dev.bitcoinmp.capnp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;

/** A {@link Stream} over a connected, blocking socket channel (a unix-domain socket, say). */
public final class ChannelStream implements Stream {

    private final SocketChannel channel;

    public ChannelStream(SocketChannel channel) throws IOException {
        channel.configureBlocking(true);
        this.channel = channel;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        try {
            return channel.read(dst);
        } catch (ClosedChannelException e) {
            return -1;
        }
    }

    @Override
    public void write(ByteBuffer[] srcs, int count) throws IOException {
        int last = count;
        int first = 0;
        while (first < last) {
            channel.write(srcs, first, last - first);
            while (first < last && !srcs[first].hasRemaining()) first++;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
