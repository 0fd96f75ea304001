package dev.bitcoinmp.cli;

/** A {@code -rpcconnect} value split as Core's SplitHostPort splits it; port 0 when none is given. */
record HostPort(String host, int port) {

    /** {@code host}, {@code host:port}, {@code [v6]}, {@code [v6]:port} or a bare IPv6 address; null for a bad port. */
    static HostPort parse(String in) {
        int colon = in.lastIndexOf(':');
        boolean haveColon = colon >= 0;
        boolean bracketed = haveColon && colon > 0 && in.charAt(0) == '[' && in.charAt(colon - 1) == ']';
        boolean multiColon = haveColon && colon > 0 && in.lastIndexOf(':', colon - 1) >= 0;
        String host = in;
        int port = 0;
        if (haveColon && (colon == 0 || bracketed || !multiColon)) {
            port = port(in.substring(colon + 1));
            if (port == 0) return null;
            host = in.substring(0, colon);
        }
        if (host.length() >= 2 && host.charAt(0) == '[' && host.charAt(host.length() - 1) == ']') {
            host = host.substring(1, host.length() - 1);
        }
        return new HostPort(host, port);
    }

    /** A port number 1-65535 written in decimal digits only, else 0. */
    static int port(String s) {
        if (s.isEmpty() || s.length() > 5) return 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return 0;
        int value = Integer.parseInt(s);
        return value <= 65535 ? value : 0;
    }
}
