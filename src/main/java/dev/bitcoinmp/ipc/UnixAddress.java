package dev.bitcoinmp.ipc;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * An IPC address as {@code -ipcbind} (and a client's {@code -ipcconnect}) write it, resolved to a socket path:
 * {@code unix} or {@code unix:} is {@code <network datadir>/node.sock}, {@code unix:<path>} is that path, relative
 * ones under the network data directory. Canonical form: {@code unix:<full path>}.
 */
public record UnixAddress(Path path) {

    /** The socket's name in the network data directory when the address names none. */
    public static final String DEFAULT_NAME = "node.sock";
    /** sun_path holds 108 bytes including the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;

    /**
     * Resolves {@code address} against {@code dataDir} (the network data directory, absolute).
     *
     * @throws IllegalArgumentException with Core's texts: {@code Unrecognized address '<address>'} or
     *     {@code Unix address path "<path>" exceeded maximum socket path length}
     */
    public static UnixAddress parse(String address, Path dataDir) {
        if (!address.equals("unix") && !address.startsWith("unix:")) {
            throw new IllegalArgumentException("Unrecognized address '" + address + "'");
        }
        String given = address.length() > 5 ? address.substring(5) : "";
        Path path;
        try {
            path = given.isEmpty() ? dataDir.resolve(DEFAULT_NAME) : dataDir.resolve(Path.of(given));
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("Unrecognized address '" + address + "'");
        }
        if (path.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("Unix address path \"" + path + "\" exceeded maximum socket path length");
        }
        return new UnixAddress(path);
    }

    /** {@code unix:<full path>}, as logged. */
    public String canonical() {
        return "unix:" + path;
    }

    @Override
    public String toString() {
        return canonical();
    }
}
