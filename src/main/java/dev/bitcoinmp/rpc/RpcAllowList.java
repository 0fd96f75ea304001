package dev.bitcoinmp.rpc;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which client addresses may use the RPC server (RPC-FACTS section 1): always {@code 127.0.0.0/8} and
 * {@code ::1}, plus the configured {@code -rpcallowip} entries. An entry is a single IP, {@code net/mask}
 * (e.g. {@code 10.0.0.0/255.0.0.0}) or {@code net/bits} (CIDR); only numeric addresses, never names.
 */
public final class RpcAllowList {

    /** A network: the address bytes with the mask applied, and the mask (same length, 4 or 16 bytes). */
    public record Subnet(byte[] network, byte[] mask) {
        public Subnet {
            if (network.length != mask.length) throw new IllegalArgumentException("address and mask differ in family");
            network = network.clone();
            mask = mask.clone();
            for (int i = 0; i < network.length; i++) network[i] &= mask[i];
        }

        @Override
        public byte[] network() {
            return network.clone();
        }

        @Override
        public byte[] mask() {
            return mask.clone();
        }

        public boolean contains(InetAddress address) {
            byte[] bytes = address.getAddress();
            if (bytes.length != network.length) return false;
            for (int i = 0; i < bytes.length; i++) {
                if ((bytes[i] & mask[i]) != network[i]) return false;
            }
            return true;
        }

        /** Prefix length of the (contiguous) mask. */
        public int prefixLength() {
            int bits = 0;
            for (byte b : mask) bits += Integer.bitCount(b & 0xff);
            return bits;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Subnet s && Arrays.equals(network, s.network) && Arrays.equals(mask, s.mask);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(network) + Arrays.hashCode(mask);
        }

        @Override
        public String toString() {
            try {
                return InetAddress.getByAddress(network).getHostAddress() + "/" + prefixLength();
            } catch (java.net.UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** The networks every server allows. */
    public static final List<Subnet> LOOPBACK = List.of(parse("127.0.0.0/8"), parse("::1"));

    private final List<Subnet> subnets;

    private RpcAllowList(List<Subnet> subnets) {
        this.subnets = List.copyOf(subnets);
    }

    /** The loopback networks plus the given {@code -rpcallowip} entries; an invalid entry throws. */
    public static RpcAllowList of(List<String> entries) {
        List<Subnet> all = new ArrayList<>(LOOPBACK);
        for (String entry : entries) all.add(parse(entry));
        return new RpcAllowList(all);
    }

    /** Exactly the given networks, loopback not added (for tests of the matcher). */
    static RpcAllowList exactly(List<Subnet> subnets) {
        return new RpcAllowList(subnets);
    }

    public List<Subnet> subnets() {
        return subnets;
    }

    public boolean allows(InetAddress address) {
        if (address == null) return false;
        InetAddress plain = unmapped(address);
        for (Subnet subnet : subnets) {
            if (subnet.contains(plain)) return true;
        }
        return false;
    }

    /**
     * One {@code -rpcallowip} entry: {@code IP}, {@code IP/netmask} or {@code IP/bits}. IPv6 addresses may be
     * in brackets. A netmask must be of the address's family and contiguous.
     *
     * @throws IllegalArgumentException naming the entry and the accepted forms
     */
    public static Subnet parse(String entry) {
        if (entry == null) throw invalid("null");
        String text = entry.strip();
        int slash = text.indexOf('/');
        String host = slash < 0 ? text : text.substring(0, slash);
        InetAddress address = literal(host);
        if (address == null) throw invalid(entry);
        int length = address.getAddress().length;
        if (slash < 0) return new Subnet(address.getAddress(), prefixMask(length, length * 8));
        String maskText = text.substring(slash + 1);
        if (!maskText.isEmpty() && maskText.chars().allMatch(c -> c >= '0' && c <= '9')) {
            if (maskText.length() > 3) throw invalid(entry);
            int bits = Integer.parseInt(maskText);
            if (bits > length * 8) throw invalid(entry);
            return new Subnet(address.getAddress(), prefixMask(length, bits));
        }
        InetAddress mask = literal(maskText);
        if (mask == null || mask.getAddress().length != length || !contiguous(mask.getAddress())) throw invalid(entry);
        return new Subnet(address.getAddress(), mask.getAddress());
    }

    private static IllegalArgumentException invalid(String entry) {
        return new IllegalArgumentException("Invalid -rpcallowip subnet specification: " + entry
                + ". Valid values are a single IP (e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0), "
                + "a network/CIDR (e.g. 1.2.3.4/24), all ipv4 (0.0.0.0/0), or all ipv6 (::/0).");
    }

    /** A numeric IPv4 or IPv6 address (no name look-up), brackets allowed around IPv6; null if it is none. */
    static InetAddress literal(String text) {
        String s = text;
        if (s.startsWith("[") && s.endsWith("]")) s = s.substring(1, s.length() - 1);
        if (s.isEmpty() || s.indexOf('%') >= 0) return null;
        try {
            return unmapped(InetAddress.ofLiteral(s));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** An IPv4-mapped IPv6 address as the IPv4 address it carries. */
    static InetAddress unmapped(InetAddress address) {
        byte[] b = address.getAddress();
        if (b.length != 16) return address;
        for (int i = 0; i < 10; i++) if (b[i] != 0) return address;
        if (b[10] != (byte) 0xff || b[11] != (byte) 0xff) return address;
        try {
            return Inet4Address.getByAddress(Arrays.copyOfRange(b, 12, 16));
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] prefixMask(int length, int bits) {
        byte[] mask = new byte[length];
        for (int i = 0; i < length; i++) {
            int take = Math.max(0, Math.min(8, bits - i * 8));
            mask[i] = (byte) (0xff00 >> take);
        }
        return mask;
    }

    private static boolean contiguous(byte[] mask) {
        boolean zero = false;
        for (byte b : mask) {
            for (int bit = 7; bit >= 0; bit--) {
                boolean one = ((b >> bit) & 1) != 0;
                if (one && zero) return false;
                if (!one) zero = true;
            }
        }
        return true;
    }
}
