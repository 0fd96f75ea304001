package dev.bitcoinmp.rpc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The RPC authentication cookie (RPC-FACTS section 2): {@code __cookie__:} and 64 lowercase hex characters from
 * 32 random bytes, no newline, written to {@code <path>.tmp} and renamed onto {@code <path>}, readable by the
 * owner only unless {@code -rpccookieperms} says otherwise. A cookie this process wrote is deleted by
 * {@link #delete()}; one read from disk never is.
 */
public final class RpcCookie {

    /** The user name of cookie credentials. */
    public static final String USER = "__cookie__";

    private static final SecureRandom RANDOM = new SecureRandom();

    /** {@code -rpccookieperms}: who may read the cookie file. */
    public enum Perms {
        /** rw------- */
        OWNER("rw-------"),
        /** rw-r----- */
        GROUP("rw-r-----"),
        /** rw-r--r-- */
        ALL("rw-r--r--");

        private final Set<PosixFilePermission> permissions;

        Perms(String mode) {
            this.permissions = PosixFilePermissions.fromString(mode);
        }

        public Set<PosixFilePermission> permissions() {
            return permissions;
        }

        /** {@code owner}, {@code group} or {@code all}. */
        public static Perms parse(String value) {
            return switch (value == null ? "" : value.toLowerCase(Locale.ROOT)) {
                case "owner" -> OWNER;
                case "group" -> GROUP;
                case "all" -> ALL;
                default -> throw new IllegalArgumentException("Invalid -rpccookieperms=" + value
                        + "; must be one of 'owner', 'group', or 'all'.");
            };
        }
    }

    private final Path path;
    private final String password;
    private final boolean generated;
    private boolean deleted;

    private RpcCookie(Path path, String password, boolean generated) {
        this.path = path;
        this.password = password;
        this.generated = generated;
    }

    /**
     * Writes a new cookie to {@code path} (through {@code path.tmp} and an atomic rename) with {@code perms},
     * and logs {@code Generated RPC authentication cookie <path>}.
     */
    public static RpcCookie generate(Path path, Perms perms, Consumer<String> log) throws IOException {
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        String password = HexFormat.of().formatHex(secret);
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                && tmp.getFileSystem().supportedFileAttributeViews().contains("posix");
        Files.deleteIfExists(tmp);
        if (posix) {
            // Created owner-only, so the secret is never readable by others, then widened as asked.
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(Perms.OWNER.permissions()));
            Files.setPosixFilePermissions(tmp, perms.permissions());
        } else {
            Files.createFile(tmp);
        }
        try {
            Files.write(tmp, (USER + ":" + password).getBytes(StandardCharsets.US_ASCII));
            try {
                Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        if (log != null) log.accept("Generated RPC authentication cookie " + path);
        return new RpcCookie(path, password, true);
    }

    /** Reads an existing cookie (a client's view); {@link #delete()} leaves it alone. */
    public static RpcCookie read(Path path) throws IOException {
        String content = Files.readString(path, StandardCharsets.US_ASCII).strip();
        int colon = content.indexOf(':');
        if (colon < 0 || !content.substring(0, colon).equals(USER)) {
            throw new IOException("Malformed RPC cookie file " + path);
        }
        return new RpcCookie(path, content.substring(colon + 1), false);
    }

    public Path path() {
        return path;
    }

    public String user() {
        return USER;
    }

    public String password() {
        return password;
    }

    /** Whether this process wrote the file. */
    public boolean generated() {
        return generated;
    }

    /** Deletes the file if this process wrote it (once); a cookie only read is never deleted. */
    public synchronized void delete() throws IOException {
        if (!generated || deleted) return;
        deleted = true;
        Files.deleteIfExists(path);
    }
}
