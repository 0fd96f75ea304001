package dev.bitcoinmp.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class FdStreamTest {
    private static final Duration BOUND = Duration.ofSeconds(5);

    @Test
    void smallMessagesBothWays() throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream a = pair[0]; FdStream b = pair[1]) {
            a.write(new ByteBuffer[] {utf8("hel"), utf8("lo")}, 2);
            assertEquals("hello", readString(b, 5));
            b.write(new ByteBuffer[] {utf8("world")}, 1);
            assertEquals("world", readString(a, 5));
        }
    }

    @Test
    void writeStopsAtCountAndConsumesTheBuffers() throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream a = pair[0]; FdStream b = pair[1]) {
            ByteBuffer first = utf8("ab");
            ByteBuffer[] srcs = {first, utf8("cd"), utf8("NOT SENT")};
            a.write(srcs, 2);
            assertEquals(0, first.remaining());
            assertEquals(8, srcs[2].remaining());
            a.write(new ByteBuffer[] {utf8("!")}, 1);
            assertEquals("abcd!", readString(b, 5));
        }
    }

    @Test
    void megabyteBothWaysWithHeapBuffers() throws Exception {
        exchangeMegabyte(false);
    }

    @Test
    void megabyteBothWaysWithDirectBuffers() throws Exception {
        exchangeMegabyte(true);
    }

    @Test
    void megabyteBothWaysThroughAnInheritedDescriptor() throws Exception {
        exchangeMegabyte(false, inheritedPair());
        exchangeMegabyte(true, inheritedPair());
    }

    /**
     * A spawned child's stream: the JDK's file streams on the descriptor (the launch opens java.io, as the
     * launchers and this test's JVM do), at the other end of a native one.
     */
    private static FdStream[] inheritedPair() throws IOException {
        int[] fds = Posix.socketpair();
        FdStream inherited = FdStream.inherited(fds[1]);
        assertTrue(inherited.jdkStreams(), "an inherited descriptor is read through the JDK's streams");
        return new FdStream[] {new FdStream(fds[0]), inherited};
    }

    @Test
    void inheritedDescriptorBothWaysAndEndOfStream() throws IOException {
        FdStream[] pair = inheritedPair();
        try (FdStream a = pair[0]; FdStream child = pair[1]) {
            a.write(new ByteBuffer[] {utf8("hel"), utf8("lo")}, 2);
            assertEquals("hello", readString(child, 5));
            child.write(new ByteBuffer[] {utf8("wor"), ByteBuffer.allocateDirect(2).put((byte) 'l').put((byte) 'd').flip()}, 2);
            assertEquals("world", readString(a, 5));
            a.close();
            assertEquals(-1, child.read(ByteBuffer.allocate(4)));
            IOException e = assertThrows(IOException.class, () -> child.write(new ByteBuffer[] {utf8("x")}, 1));
            assertTrue(e.getMessage().contains("Broken pipe"), e.getMessage());
        }
    }

    @Test
    void closingAnInheritedDescriptorWakesABlockedReadAndLeaksNothing() throws Exception {
        cycle(true, inheritedPair());
        long before = openDescriptors();
        for (int i = 0; i < 50; i++) cycle(i % 5 == 0, inheritedPair());
        assertEquals(before, openDescriptors());
    }

    /** A number that is no open descriptor is refused at once, with the system's reason. */
    @Test
    void anInheritedNumberThatIsNotOpenIsRefused() {
        IOException e = assertThrows(IOException.class, () -> FdStream.inherited(Integer.MAX_VALUE));
        assertTrue(e.getMessage().contains("Bad file descriptor"), e.getMessage());
    }

    private static void exchangeMegabyte(boolean direct) throws Exception {
        exchangeMegabyte(direct, FdStream.socketPair());
    }

    /** Both ends write 1 MB at once, so each write only completes because the other side reads meanwhile. */
    private static void exchangeMegabyte(boolean direct, FdStream[] pair) throws Exception {
        byte[] ab = randomBytes(1 << 20, 1);
        byte[] ba = randomBytes(1 << 20, 2);
        try (FdStream a = pair[0]; FdStream b = pair[1]) {
            assertTimeoutPreemptively(BOUND, () -> {
                Future<byte[]> atB = async(() -> readFully(b, ab.length, direct));
                Future<byte[]> atA = async(() -> readFully(a, ba.length, direct));
                Future<Void> fromB = async(() -> {
                    writeInPieces(b, ba, direct);
                    return null;
                });
                writeInPieces(a, ab, direct);
                fromB.get();
                assertArrayEquals(ab, atB.get());
                assertArrayEquals(ba, atA.get());
            });
        }
    }

    /**
     * Reads into arrays (what the frame reader does): a long read takes what has arrived straight into the
     * array and waits only when nothing has, a short one waits through the native buffer; each lands at its
     * offset and nowhere else, and the end of the stream is -1. The writer sends in pieces with pauses, so
     * that reads find the socket now full, now empty.
     */
    @Test
    void megabyteIntoArraysAtOffsets() throws Exception {
        arraysAtOffsets(FdStream.socketPair());
        arraysAtOffsets(inheritedPair());
    }

    private static void arraysAtOffsets(FdStream[] pair) throws Exception {
        byte[] data = randomBytes(1 << 20, 3);
        try (FdStream a = pair[0]; FdStream b = pair[1]) {
            assertTimeoutPreemptively(BOUND, () -> {
                Future<Void> writer = async(() -> {
                    for (int off = 0, step = 1; off < data.length; off += step, step = Math.min(2 * step + 1, 200_000)) {
                        int len = Math.min(step, data.length - off);
                        a.write(new ByteBuffer[] {ByteBuffer.wrap(data, off, len)}, 1);
                        if (step < 5000) Thread.sleep(1);
                    }
                    a.close();
                    return null;
                });
                byte[] into = new byte[data.length + 20];
                java.util.Arrays.fill(into, (byte) 0x5a);
                int at = 10;
                int chunk = 3;
                while (at < 10 + data.length) {
                    int n = b.read(into, at, Math.min(chunk, 10 + data.length - at));
                    assertTrue(n > 0, "read " + n + " at " + at);
                    at += n;
                    chunk = chunk > 300_000 ? 3 : chunk * 5;  // short and long reads, in turn
                }
                writer.get();
                assertEquals(-1, b.read(into, 0, 8), "end of stream");
                assertArrayEquals(data, java.util.Arrays.copyOfRange(into, 10, 10 + data.length));
                for (int i = 0; i < 10; i++) assertEquals((byte) 0x5a, into[i]);
                for (int i = 10 + data.length; i < into.length; i++) assertEquals((byte) 0x5a, into[i]);
                assertThrows(IndexOutOfBoundsException.class, () -> b.read(into, into.length - 4, 8));
            });
            b.close();
            assertEquals(-1, b.read(new byte[16], 0, 16), "a closed stream reads nothing");
        }
    }

    @Test
    void closeFromAnotherThreadWakesABlockedRead() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream peer = pair[1]) {
            FdStream stream = pair[0];
            CountDownLatch reading = new CountDownLatch(1);
            Future<Integer> read = async(() -> {
                reading.countDown();
                try {
                    return stream.read(ByteBuffer.allocate(16));
                } catch (IOException e) {
                    return -2;
                }
            });
            reading.await();
            Thread.sleep(100); // let the reader get into read(2)
            assertTimeoutPreemptively(BOUND, () -> {
                stream.close();
                int result = read.get();
                assertTrue(result == -1 || result == -2, "read ended with " + result);
            });
            assertEquals(-1, peer.read(ByteBuffer.allocate(16)), "the peer sees end of stream");
        }
    }

    @Test
    void readAndWriteAfterClose() throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream peer = pair[1]) {
            FdStream stream = pair[0];
            stream.close();
            stream.close(); // idempotent
            assertEquals(-1, stream.read(ByteBuffer.allocate(4)));
            assertThrows(IOException.class, () -> stream.write(new ByteBuffer[] {utf8("x")}, 1));
        }
    }

    @Test
    void endOfStreamWhenThePeerCloses() throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream stream = pair[0]) {
            pair[1].write(new ByteBuffer[] {utf8("bye")}, 1);
            pair[1].close();
            assertEquals("bye", readString(stream, 3));
            assertEquals(-1, stream.read(ByteBuffer.allocate(4)));
        }
    }

    /** The JVM handles SIGPIPE, so writing to a closed peer is EPIPE rather than the end of the process. */
    @Test
    void writeToAClosedPeerThrowsEpipe() throws IOException {
        FdStream[] pair = FdStream.socketPair();
        try (FdStream stream = pair[0]) {
            pair[1].close();
            IOException heap = assertThrows(IOException.class, () -> stream.write(new ByteBuffer[] {utf8("x")}, 1));
            assertTrue(heap.getMessage().contains("EPIPE"), heap.getMessage());
            ByteBuffer direct = ByteBuffer.allocateDirect(1);
            IOException gathered = assertThrows(IOException.class, () -> stream.write(new ByteBuffer[] {direct}, 1));
            assertTrue(gathered.getMessage().startsWith("writev: "), gathered.getMessage());
        }
    }

    @Test
    void noDescriptorLeaks() throws Exception {
        cycle(true);
        long before = openDescriptors();
        for (int i = 0; i < 200; i++) cycle(i % 10 == 0);
        assertEquals(before, openDescriptors());
    }

    /** One socketpair used and closed; with {@code blockedReader}, closed under a reader blocked in read(2). */
    private static void cycle(boolean blockedReader) throws Exception {
        cycle(blockedReader, FdStream.socketPair());
    }

    private static void cycle(boolean blockedReader, FdStream[] pair) throws Exception {
        pair[0].write(new ByteBuffer[] {utf8("ping")}, 1);
        assertEquals("ping", readString(pair[1], 4));
        if (blockedReader) {
            Future<Integer> read = async(() -> {
                try {
                    return pair[1].read(ByteBuffer.allocate(4));
                } catch (IOException e) {
                    return -2;
                }
            });
            Thread.sleep(5);
            pair[1].close();
            read.get(5, TimeUnit.SECONDS);
        }
        pair[0].close();
        pair[1].close();
    }

    static long openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static ByteBuffer utf8(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String readString(FdStream stream, int length) {
        return new String(readFully(stream, length, false), StandardCharsets.UTF_8);
    }

    private static byte[] readFully(FdStream stream, int length, boolean direct) {
        ByteBuffer dst = direct ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
        try {
            while (dst.hasRemaining()) {
                if (stream.read(dst) < 0) throw new IOException("early end of stream");
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        byte[] bytes = new byte[length];
        dst.flip().get(bytes);
        return bytes;
    }

    /** Writes {@code data} as several messages of three uneven buffers each. */
    private static void writeInPieces(FdStream stream, byte[] data, boolean direct) {
        try {
            int message = 100_000;
            for (int off = 0; off < data.length; off += message) {
                int len = Math.min(message, data.length - off);
                int cut1 = len / 3, cut2 = len / 2;
                stream.write(new ByteBuffer[] {
                        buffer(data, off, cut1, direct),
                        buffer(data, off + cut1, cut2 - cut1, direct),
                        buffer(data, off + cut2, len - cut2, direct)}, 3);
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static ByteBuffer buffer(byte[] data, int off, int len, boolean direct) {
        if (!direct) return ByteBuffer.wrap(data, off, len);
        return ByteBuffer.allocateDirect(len).put(data, off, len).flip();
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] bytes = new byte[n];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /**
     * Runs {@code task} on a new platform thread: the tasks here block in read(2), which would starve a
     * small common pool, and a virtual thread blocked in a native call pins its carrier.
     */
    static <T> Future<T> async(Callable<T> task) {
        FutureTask<T> future = new FutureTask<>(task);
        Thread thread = new Thread(future, "FdStreamTest-async");
        thread.setDaemon(true);
        thread.start();
        return future;
    }
}
