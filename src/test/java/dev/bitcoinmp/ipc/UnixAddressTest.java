package dev.bitcoinmp.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.Stream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** -ipcbind addresses as Core reads them, and binding and connecting unix sockets (IpcProcess). */
class UnixAddressTest {

    private static final Path NET = Path.of("/data/regtest");

    private static String parse(String address) {
        return UnixAddress.parse(address, NET).canonical();
    }

    private static String error(String address) {
        return assertThrows(IllegalArgumentException.class, () -> UnixAddress.parse(address, NET)).getMessage();
    }

    @Test
    void addressesResolveAgainstTheNetworkDataDirectory() {
        assertEquals("unix:/data/regtest/node.sock", parse("unix"));
        assertEquals("unix:/data/regtest/node.sock", parse("unix:"));
        assertEquals("unix:/data/regtest/my.sock", parse("unix:my.sock"));
        assertEquals("unix:/data/regtest/sub/dir/my.sock", parse("unix:sub/dir/my.sock"));
        assertEquals("unix:/data/regtest/../up.sock", parse("unix:../up.sock"));
        assertEquals("unix:/run/node/x.sock", parse("unix:/run/node/x.sock"));
    }

    @Test
    void anythingElseIsUnrecognized() {
        assertEquals("Unrecognized address ''", error(""));
        assertEquals("Unrecognized address 'unixx'", error("unixx"));
        assertEquals("Unrecognized address 'UNIX'", error("UNIX"));
        assertEquals("Unrecognized address 'tcp:127.0.0.1:8000'", error("tcp:127.0.0.1:8000"));
        assertEquals("Unrecognized address 'unix:a\0b'", error("unix:a\0b"));
    }

    @Test
    void pathsOf108BytesOrMoreAreRefused() {
        String dir = "/" + "d".repeat(90) + "/";
        String fits = dir + "x".repeat(107 - dir.length());
        assertEquals("unix:" + fits, parse("unix:" + fits));
        String tooLong = fits + "x";
        assertEquals("Unix address path \"" + tooLong + "\" exceeded maximum socket path length", error("unix:" + tooLong));
        // Bytes count, not characters: 54 two-byte characters make 108 bytes.
        String wide = "/" + "é".repeat(53);
        assertEquals("unix:" + wide, parse("unix:" + wide));
        assertTrue(error("unix:" + wide + "é").startsWith("Unix address path"));
    }

    @Test
    void bindMakesOwnerOnlyDirectoriesAndSocket(@TempDir Path tmp) throws IOException {
        Path existing = Files.createDirectories(tmp.resolve("existing"));
        Files.setPosixFilePermissions(existing, PosixFilePermissions.fromString("rwxr-xr-x"));
        UnixAddress address = UnixAddress.parse("unix:new/deeper/s.sock", existing);
        try (ServerSocketChannel server = IpcProcess.bind(address)) {
            assertEquals("rw-------", perms(address.path()));
            assertEquals("rwx------", perms(existing.resolve("new")));
            assertEquals("rwx------", perms(existing.resolve("new/deeper")));
            assertEquals("rwxr-xr-x", perms(existing), "an existing directory is left as it was");
            try (Stream client = IpcProcess.connect(address); SocketChannel accepted = server.accept()) {
                client.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {42})}, 1);
                ByteBuffer in = ByteBuffer.allocate(1);
                assertEquals(1, accepted.read(in));
                assertEquals(42, in.get(0));
            }
        }
    }

    @Test
    void bindReplacesAStaleSocketOnly(@TempDir Path tmp) throws IOException {
        UnixAddress address = UnixAddress.parse("unix", tmp);
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(address.path()));
        }
        assertTrue(Files.exists(address.path(), LinkOption.NOFOLLOW_LINKS), "left behind");
        try (ServerSocketChannel server = IpcProcess.bind(address)) {
            // The live one is never taken over.
            IOException live = assertThrows(IOException.class, () -> IpcProcess.bind(address));
            assertEquals("another process is listening on " + address.path(), live.getMessage());
            try (Stream client = IpcProcess.connect(address); SocketChannel accepted = server.accept()) {
                assertTrue(accepted.isConnected());
            }
        }
        Path file = Files.writeString(tmp.resolve("file"), "data");
        IOException notSocket = assertThrows(IOException.class, () -> IpcProcess.bind(UnixAddress.parse("unix:file", tmp)));
        assertEquals(file + " exists and is not a socket; remove it or choose another path", notSocket.getMessage());
        assertEquals("data", Files.readString(file));
        IOException blocked = assertThrows(IOException.class, () -> IpcProcess.bind(UnixAddress.parse("unix:file/s.sock", tmp)));
        assertEquals("Cannot create directory " + file + ": File exists", blocked.getMessage());
    }

    @Test
    void connectSaysWhyItFailed(@TempDir Path tmp) throws IOException {
        UnixAddress missing = UnixAddress.parse("unix", tmp);
        assertEquals("No such file or directory", assertThrows(IOException.class, () -> IpcProcess.connect(missing)).getMessage());
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(missing.path()));
        }
        assertEquals("Connection refused", assertThrows(IOException.class, () -> IpcProcess.connect(missing)).getMessage());
        assertFalse(Files.isDirectory(missing.path()));
    }

    private static String perms(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }
}
