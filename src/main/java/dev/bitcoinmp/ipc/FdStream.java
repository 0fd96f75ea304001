package dev.bitcoinmp.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bitcoinmp.capnp.Stream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Stream} over a connected socket descriptor it owns.
 *
 * <p>Heap buffers are copied through native buffers so that a message goes out in one write(2); direct
 * buffers are written in place with writev(2). {@link #close()} wakes a reader blocked in another thread
 * by shutting the socket down, and releases the descriptor only when no call is using it, so a number the
 * kernel has handed to someone else is never read, written or closed.
 *
 * <p>A spawned child's descriptor ({@link #inherited}) is read and written through the JDK's own file streams
 * instead: linking java.lang.foreign calls costs ~45 ms of CPU in a fresh JVM, even from the AOT cache, which
 * is more than the rest of a child's start. Such a stream links a native call only if it must wake a reader
 * blocked in another thread when it is closed (shutdown(2)), which a child ending normally never does.
 */
public final class FdStream implements Stream {
    private static final int READ_BUFFER_SIZE = 64 * 1024;
    private static final int INITIAL_WRITE_BUFFER_SIZE = 4 * 1024;
    /**
     * Reads into an array at least this long first take what has arrived straight into the array (see
     * {@link #read(byte[], int, int)}); shorter ones, which usually wait for data, go through the native buffer.
     */
    private static final int DIRECT_READ_MIN = 8 * 1024;
    /** The most one read straight into an array takes (the JVM holds a GC back while it copies). */
    private static final int DIRECT_READ_MAX = 1 << 20;
    private static final int CLOSED = 1 << 31;

    private final int fd;
    /** Count of calls using {@link #fd}, plus the {@link #CLOSED} bit once close() has started. */
    private final AtomicInteger users = new AtomicInteger();
    // Native memory is freed by the GC (ofAuto): a blocked reader never races an explicit free.
    // An inherited descriptor read through the JDK has none of them, and never touches Posix.
    private final MemorySegment readBuffer;
    private final MemorySegment iovecs;
    private MemorySegment writeBuffer;
    /** The JDK's streams on {@link #fd} for an inherited descriptor, else null (java.lang.foreign I/O). */
    private final FileInputStream jdkIn;
    private final FileOutputStream jdkOut;
    private byte[] jdkBuffer;
    private byte[] jdkReadBuffer;

    /** Takes ownership of {@code fd}, an open, connected stream socket. */
    public FdStream(int fd) {
        this(fd, null);
    }

    private FdStream(int fd, FileDescriptor jdkFd) {
        if (fd < 0) throw new IllegalArgumentException("bad descriptor " + fd);
        this.fd = fd;
        if (jdkFd != null) {
            jdkIn = new FileInputStream(jdkFd);
            jdkOut = new FileOutputStream(jdkFd);
            jdkBuffer = new byte[INITIAL_WRITE_BUFFER_SIZE];
            readBuffer = null;
            iovecs = null;
        } else {
            jdkIn = null;
            jdkOut = null;
            readBuffer = Arena.ofAuto().allocate(READ_BUFFER_SIZE);
            iovecs = Arena.ofAuto().allocate(Posix.IOVEC, Posix.IOV_MAX);
            writeBuffer = Arena.ofAuto().allocate(INITIAL_WRITE_BUFFER_SIZE);
        }
    }

    /**
     * A stream over a descriptor this process inherited (a spawned child's {@code -ipcfd N}), using the JDK's
     * file streams when the launch opens java.io to us ({@code --add-opens java.base/java.io=ALL-UNNAMED}, as
     * config/jvm.options does), else the same native calls as any FdStream.
     *
     * @throws IOException if {@code fd} is not an open descriptor
     */
    public static FdStream inherited(int fd) throws IOException {
        FileDescriptor jdkFd = JdkDescriptor.wrap(fd);
        FdStream stream = new FdStream(fd, jdkFd);
        // Fail now, with the system's reason, on a number that is no open descriptor.
        if (jdkFd != null) {
            stream.jdkIn.available();
        } else {
            Posix.getFdFlags(fd);
        }
        return stream;
    }

    /**
     * java.io.FileDescriptor has no public way in from a number; its private constructor taking one is used
     * where the JDK allows it (a constructor, unlike a field, is called without spinning method handles when
     * the child runs with -Djdk.reflect.useNativeAccessorOnly=true).
     */
    private static final class JdkDescriptor {
        private static final Constructor<FileDescriptor> NEW = constructor();

        private static Constructor<FileDescriptor> constructor() {
            try {
                Constructor<FileDescriptor> c = FileDescriptor.class.getDeclaredConstructor(int.class);
                c.setAccessible(true);
                return c;
            } catch (ReflectiveOperationException | RuntimeException e) {
                return null;  // not opened to us: the native path serves
            }
        }

        static FileDescriptor wrap(int fd) {
            if (NEW == null || fd < 0) return null;
            try {
                return NEW.newInstance(fd);
            } catch (ReflectiveOperationException e) {
                return null;
            }
        }
    }

    /** Both ends of a new socketpair; they are close-on-exec, so no child inherits one by accident. */
    public static FdStream[] socketPair() throws IOException {
        int[] fds = Posix.socketpair();
        return new FdStream[] {new FdStream(fds[0]), new FdStream(fds[1])};
    }

    /** Whether this stream reads and writes through the JDK's file streams rather than native calls. */
    boolean jdkStreams() {
        return jdkIn != null;
    }

    /** The descriptor number; valid only until {@link #close()}. */
    public int fd() {
        return fd;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) return 0;
        if (!acquire()) return -1;
        try {
            int want = dst.remaining();
            int position = dst.position();
            long n;
            if (jdkIn != null) {
                n = readJdk(dst, want);
            } else if (dst.isDirect()) {
                n = Posix.read(fd, MemorySegment.ofBuffer(dst), want);
            } else {
                n = Posix.read(fd, readBuffer, Math.min(want, READ_BUFFER_SIZE));
                MemorySegment.copy(readBuffer, 0, MemorySegment.ofBuffer(dst), 0, n);
            }
            if (n == 0) return -1;
            dst.position(position + (int) n);
            return (int) n;
        } finally {
            release();
        }
    }

    /**
     * Reads into {@code array[offset, offset + length)} without a buffer object: a long read first takes
     * what has already arrived straight into the array (a non-blocking recv(2) that writes to the Java heap),
     * and only waits, through the native buffer, when nothing has; a short one waits in read(2) into the
     * native buffer and copies from there.
     */
    @Override
    public int read(byte[] array, int offset, int length) throws IOException {
        java.util.Objects.checkFromIndexSize(offset, length, array.length);
        if (length == 0) return 0;
        if (!acquire()) return -1;
        try {
            long n;
            if (jdkIn != null) {
                n = Math.max(jdkIn.read(array, offset, length), 0);
            } else {
                n = -1;
                if (length >= DIRECT_READ_MIN) {
                    n = Posix.recvNow(fd, MemorySegment.ofArray(array).asSlice(offset, Math.min(length, DIRECT_READ_MAX)),
                            Math.min(length, DIRECT_READ_MAX));
                }
                if (n < 0) {
                    n = Posix.read(fd, readBuffer, Math.min(length, READ_BUFFER_SIZE));
                    MemorySegment.copy(readBuffer, JAVA_BYTE, 0, array, offset, (int) n);
                }
            }
            return n == 0 ? -1 : (int) n;
        } finally {
            release();
        }
    }

    private long readJdk(ByteBuffer dst, int want) throws IOException {
        int n;
        if (dst.hasArray()) {
            n = jdkIn.read(dst.array(), dst.arrayOffset() + dst.position(), want);
        } else {
            // Only the reading thread reads: its staging array is its own (writes use jdkBuffer).
            if (jdkReadBuffer == null) jdkReadBuffer = new byte[READ_BUFFER_SIZE];
            n = jdkIn.read(jdkReadBuffer, 0, Math.min(want, READ_BUFFER_SIZE));
            if (n > 0) dst.put(dst.position(), jdkReadBuffer, 0, n);
        }
        return Math.max(n, 0);
    }

    /** Writes every remaining byte of {@code srcs[0..count)}; their positions end at their limits. */
    @Override
    public void write(ByteBuffer[] srcs, int count) throws IOException {
        if (!acquire()) throw new IOException("write: stream closed");
        try {
            if (jdkOut != null) {
                writeJdk(srcs, count);
            } else if (allDirect(srcs, count)) {
                writeDirect(srcs, count);
            } else {
                writeCopied(srcs, count);
            }
        } finally {
            release();
        }
    }

    private static boolean allDirect(ByteBuffer[] srcs, int count) {
        for (int i = 0; i < count; i++) {
            if (!srcs[i].isDirect()) return false;
        }
        return true;
    }

    /** Gathers the buffers into one array and writes it with one write(2) (FileOutputStream loops on partial ones). */
    private void writeJdk(ByteBuffer[] srcs, int count) throws IOException {
        int total = 0;
        for (int i = 0; i < count; i++) total += srcs[i].remaining();
        if (jdkBuffer.length < total) jdkBuffer = new byte[Math.max(total, jdkBuffer.length * 2)];
        int offset = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer src = srcs[i];
            int n = src.remaining();
            src.get(jdkBuffer, offset, n);
            offset += n;
        }
        jdkOut.write(jdkBuffer, 0, total);
    }

    /** Gathers the buffers into the native write buffer and writes it, looping only on partial writes. */
    private void writeCopied(ByteBuffer[] srcs, int count) throws IOException {
        long total = 0;
        for (int i = 0; i < count; i++) total += srcs[i].remaining();
        if (writeBuffer.byteSize() < total) {
            writeBuffer = Arena.ofAuto().allocate(Math.max(total, writeBuffer.byteSize() * 2));
        }
        long offset = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer src = srcs[i];
            int n = src.remaining();
            MemorySegment.copy(MemorySegment.ofBuffer(src), 0, writeBuffer, offset, n);
            src.position(src.limit());
            offset += n;
        }
        for (long done = 0; done < total; ) {
            done += Posix.write(fd, writeBuffer.asSlice(done), total - done);
        }
    }

    /** writev straight from the direct buffers; after a partial write, resumes from the first unfinished one. */
    private void writeDirect(ByteBuffer[] srcs, int count) throws IOException {
        int first = 0;
        while (true) {
            while (first < count && !srcs[first].hasRemaining()) first++;
            if (first == count) return;
            int n = 0;
            for (int i = first; i < count && n < Posix.IOV_MAX; i++) {
                ByteBuffer src = srcs[i];
                if (!src.hasRemaining()) continue;
                long base = n * Posix.IOVEC.byteSize();
                iovecs.set(ADDRESS, base, MemorySegment.ofBuffer(src));
                iovecs.set(JAVA_LONG, base + ADDRESS.byteSize(), src.remaining());
                n++;
            }
            long written = Posix.writev(fd, iovecs, n);
            for (int i = first; i < count && written > 0; i++) {
                ByteBuffer src = srcs[i];
                int step = (int) Math.min(written, src.remaining());
                src.position(src.position() + step);
                written -= step;
            }
        }
    }

    /**
     * Closes the descriptor; if a read or write is in progress, first shuts the socket down to wake it, and
     * the last of them closes the descriptor on its way out.
     *
     * <p>Without a call in progress there is no shutdown(2): that would also end the connection for a
     * child holding a copy of this socket (the parent closing its copy of the child's end after spawn).
     */
    @Override
    public void close() throws IOException {
        int state;
        do {
            state = users.get();
            if ((state & CLOSED) != 0) return;
        } while (!users.compareAndSet(state, (state + 1) | CLOSED));
        // Holding a use of our own keeps a finishing reader from closing fd under our shutdown().
        try {
            if (state != 0) Posix.shutdown(fd, Posix.SHUT_RDWR);
        } catch (IOException ignored) {
            // ENOTCONN when the peer has already gone: nothing left to wake.
        } finally {
            release();
        }
    }

    private boolean acquire() {
        while (true) {
            int state = users.get();
            if ((state & CLOSED) != 0) return false;
            if (users.compareAndSet(state, state + 1)) return true;
        }
    }

    /** The last user out after close() closes the descriptor. */
    private void release() throws IOException {
        if (users.decrementAndGet() == CLOSED) {
            if (jdkIn != null) {
                jdkIn.close();  // closes the descriptor it shares with jdkOut
            } else {
                Posix.close(fd);
            }
        }
    }

    @Override
    public String toString() {
        return "FdStream[fd=" + fd + ((users.get() & CLOSED) != 0 ? ", closed]" : "]");
    }
}
