package dev.bitcoinmp.ipc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PosixTest {

    @Test
    void socketpairEndsAreCloseOnExecAndConnected() throws IOException {
        int[] fds = Posix.socketpair();
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(Posix.FD_CLOEXEC, Posix.getFdFlags(fds[0]) & Posix.FD_CLOEXEC);
            assertEquals(Posix.FD_CLOEXEC, Posix.getFdFlags(fds[1]) & Posix.FD_CLOEXEC);

            MemorySegment out = arena.allocateFrom(JAVA_BYTE, new byte[] {1, 2, 3});
            assertEquals(3, Posix.write(fds[0], out, 3));
            MemorySegment in = arena.allocate(8);
            assertEquals(3, Posix.read(fds[1], in, 8));
            assertArrayEquals(new byte[] {1, 2, 3}, in.asSlice(0, 3).toArray(JAVA_BYTE));

            Posix.shutdown(fds[0], Posix.SHUT_RDWR);
            assertEquals(0, Posix.read(fds[1], in, 8), "end of stream after the peer shut down");
        } finally {
            Posix.close(fds[0]);
            Posix.close(fds[1]);
        }
    }

    @Test
    void fcntlSetsAndClearsCloseOnExec() throws IOException {
        int[] fds = Posix.socketpair();
        try {
            Posix.setFdFlags(fds[0], 0);
            assertEquals(0, Posix.getFdFlags(fds[0]) & Posix.FD_CLOEXEC);
            Posix.setFdFlags(fds[0], Posix.FD_CLOEXEC);
            assertEquals(Posix.FD_CLOEXEC, Posix.getFdFlags(fds[0]) & Posix.FD_CLOEXEC);
        } finally {
            Posix.close(fds[0]);
            Posix.close(fds[1]);
        }
    }

    @Test
    void errorsNameTheCallAndTheErrno() {
        IOException e = assertThrows(IOException.class, () -> Posix.close(-1));
        assertEquals("close: Bad file descriptor (EBADF)", e.getMessage());
        e = assertThrows(IOException.class, () -> Posix.getFdFlags(-1));
        assertEquals("fcntl(F_GETFD): Bad file descriptor (EBADF)", e.getMessage());
        e = assertThrows(IOException.class, () -> Posix.waitpid(1, Posix.WNOHANG));
        assertEquals("waitpid(1): No child processes (ECHILD)", e.getMessage());
        assertEquals("Broken pipe (EPIPE)", Posix.describe(32));
    }

    @Test
    void pidAndThreadIds() throws InterruptedException {
        assertEquals(ProcessHandle.current().pid(), Posix.getpid());
        AtomicInteger other = new AtomicInteger();
        Thread t = new Thread(() -> other.set(Posix.gettid()));
        t.start();
        t.join();
        assertNotEquals(0, other.get());
        assertNotEquals(Posix.gettid(), other.get());
        assertNotEquals(Posix.getpid(), other.get(), "a started thread is not the process's main thread");
    }
}
