package dev.bitcoinmp.rpc;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Who may call the RPC server (RPC-FACTS section 2): the cookie credentials, {@code -rpcuser}/{@code -rpcpassword},
 * and any number of {@code -rpcauth=<user>:<salt>$<hash>} entries, where {@code hash} is the lowercase hex
 * HMAC-SHA256 of the password keyed with the salt string. Only {@code Basic base64(user:password)} is accepted;
 * comparisons take time independent of where the inputs differ.
 */
public final class RpcAuth {

    /** One {@code -rpcauth} entry. */
    public record Entry(String user, String salt, String hash) {
        /**
         * Parses {@code <user>:<salt>$<hash>}: exactly one {@code :} and, after it, exactly one {@code $}.
         *
         * @throws IllegalArgumentException {@code Invalid -rpcauth argument.}
         */
        public static Entry parse(String value) {
            if (value == null) throw new IllegalArgumentException(INVALID_RPCAUTH);
            String[] fields = value.split(":", -1);
            if (fields.length != 2) throw new IllegalArgumentException(INVALID_RPCAUTH);
            String[] saltHash = fields[1].split("\\$", -1);
            if (saltHash.length != 2) throw new IllegalArgumentException(INVALID_RPCAUTH);
            return new Entry(fields[0], saltHash[0], saltHash[1]);
        }
    }

    public static final String INVALID_RPCAUTH = "Invalid -rpcauth argument.";

    /** A user name and password accepted as given (cookie or {@code -rpcuser}/{@code -rpcpassword}). */
    private record Plain(String user, byte[] userColonPassword) {}

    private final List<Plain> plain;
    private final List<Entry> entries;
    private final List<RpcCookie> cookies;

    private RpcAuth(List<Plain> plain, List<Entry> entries, List<RpcCookie> cookies) {
        this.plain = List.copyOf(plain);
        this.entries = List.copyOf(entries);
        this.cookies = List.copyOf(cookies);
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final List<Plain> plain = new ArrayList<>();
        private final List<Entry> entries = new ArrayList<>();
        private final List<RpcCookie> cookies = new ArrayList<>();

        /** Accepts {@code user:password} ({@code -rpcuser}/{@code -rpcpassword}). */
        public Builder user(String user, String password) {
            plain.add(new Plain(user, (user + ":" + password).getBytes(StandardCharsets.UTF_8)));
            return this;
        }

        /** Accepts the cookie's credentials; a cookie this process wrote is deleted when the server stops. */
        public Builder cookie(RpcCookie cookie) {
            user(cookie.user(), cookie.password());
            cookies.add(cookie);
            return this;
        }

        /** Accepts an {@code -rpcauth} entry; a malformed one throws {@code Invalid -rpcauth argument.} */
        public Builder rpcauth(String entry) {
            entries.add(Entry.parse(entry));
            return this;
        }

        public Builder rpcauth(List<String> entries) {
            for (String entry : entries) rpcauth(entry);
            return this;
        }

        public RpcAuth build() {
            return new RpcAuth(plain, entries, cookies);
        }
    }

    /** The cookies given to the builder. */
    public List<RpcCookie> cookies() {
        return cookies;
    }

    /** Whether any credentials at all are accepted. */
    public boolean acceptsAnyone() {
        return !plain.isEmpty() || !entries.isEmpty();
    }

    /**
     * The authenticated user for an {@code Authorization} header value, or null when it is not
     * {@code Basic <base64>}, the base64 is bad, there is no colon, or the credentials are wrong.
     */
    public String authenticate(String authorization) {
        if (authorization == null || !authorization.startsWith("Basic ")) return null;
        byte[] decoded;
        try {
            decoded = Base64.getDecoder().decode(authorization.substring(6).strip());
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = -1;
        for (int i = 0; i < decoded.length; i++) {
            if (decoded[i] == ':') {
                colon = i;
                break;
            }
        }
        if (colon < 0) return null;
        String found = null;
        for (Plain p : plain) {
            if (MessageDigest.isEqual(decoded, p.userColonPassword()) && found == null) found = p.user();
        }
        if (found != null) return found;
        if (entries.isEmpty()) return null;
        byte[] user = java.util.Arrays.copyOfRange(decoded, 0, colon);
        byte[] password = java.util.Arrays.copyOfRange(decoded, colon + 1, decoded.length);
        for (Entry entry : entries) {
            boolean userMatches = MessageDigest.isEqual(user, entry.user().getBytes(StandardCharsets.UTF_8));
            byte[] expected = entry.hash().getBytes(StandardCharsets.US_ASCII);
            byte[] actual = hmacHex(entry.salt(), password).getBytes(StandardCharsets.US_ASCII);
            if (MessageDigest.isEqual(actual, expected) & userMatches && found == null) found = entry.user();
        }
        return found;
    }

    /** Lowercase hex HMAC-SHA256 of {@code password} keyed with the bytes of {@code salt}. */
    public static String hmacHex(String salt, byte[] password) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            byte[] key = salt.getBytes(StandardCharsets.UTF_8);
            // An empty key is legal for HMAC but SecretKeySpec refuses it; a single zero byte is equivalent.
            mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(password));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An {@code -rpcauth} value for {@code user} and {@code password} with {@code salt} (for tools and tests). */
    public static String rpcauthEntry(String user, String salt, String password) {
        return user + ":" + salt + "$" + hmacHex(salt, password.getBytes(StandardCharsets.UTF_8));
    }
}
