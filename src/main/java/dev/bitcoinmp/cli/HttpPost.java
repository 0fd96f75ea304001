package dev.bitcoinmp.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One HTTP/1.1 POST over a fresh connection, as bitcoin-cli sends it ({@code Connection: close}, Basic
 * authorization), reading a reply framed by Content-Length, chunked encoding or the end of the connection. A plain
 * socket rather than an HTTP client library: one request per process, and the process starts faster.
 */
final class HttpPost {

    /** The status and body of a reply. */
    record Reply(int status, String body) {}

    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private HttpPost() {}

    /**
     * Sends {@code body} to {@code path} on {@code host:port}. A connection that cannot be made, or ends or times
     * out before the reply is complete, is a {@link ConnectionFailed} with Core's text.
     *
     * @param timeoutMillis for connecting and for each read; 0 waits forever
     */
    static Reply send(String host, int port, String path, String authorization, String body, int timeoutMillis) {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\n"
                + "Host: " + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + "\r\n"
                + "Connection: close\r\n"
                + "Content-Type: application/json\r\n"
                + "Authorization: " + authorization + "\r\n"
                + "Content-Length: " + content.length + "\r\n\r\n";
        try (Socket socket = new Socket()) {
            try {
                socket.connect(new InetSocketAddress(host, port), timeoutMillis);
            } catch (IOException | IllegalArgumentException e) {
                throw couldNotConnect(host, port, "");
            }
            try {
                socket.setSoTimeout(timeoutMillis);
                socket.setTcpNoDelay(true);
                OutputStream out = socket.getOutputStream();
                out.write(head.getBytes(StandardCharsets.ISO_8859_1));
                out.write(content);
                out.flush();
                return read(new BufferedInputStream(socket.getInputStream()));
            } catch (SocketTimeoutException e) {
                throw couldNotConnect(host, port, " (error code 0 - \"timeout reached\")");
            } catch (IOException e) {
                throw couldNotConnect(host, port, " (error code 1 - \"EOF reached\")");
            }
        } catch (IOException e) {
            throw couldNotConnect(host, port, "");   // closing failed
        }
    }

    static ConnectionFailed couldNotConnect(String host, int port, String detail) {
        return new ConnectionFailed("Could not connect to the server " + host + ":" + port + detail + "\n\n"
                + "Make sure the bitcoind server is running and that you are connecting to the correct RPC port.\n"
                + "Use \"bitcoin-cli -help\" for more info.");
    }

    private static Reply read(InputStream in) throws IOException {
        String statusLine = line(in);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) throw new IOException("not an HTTP reply: " + statusLine);
        int status;
        try {
            status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("not an HTTP status: " + statusLine);
        }
        long length = -1;
        boolean chunked = false;
        int headerBytes = statusLine.length();
        for (String header = line(in); !header.isEmpty(); header = line(in)) {
            headerBytes += header.length();
            if (headerBytes > MAX_HEADER_BYTES) throw new IOException("reply headers too large");
            int colon = header.indexOf(':');
            if (colon < 0) continue;
            String name = header.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = header.substring(colon + 1).strip();
            if (name.equals("content-length")) {
                try {
                    length = Long.parseLong(value);
                } catch (NumberFormatException e) {
                    throw new IOException("bad Content-Length: " + value);
                }
            } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked = true;
            }
        }
        byte[] body;
        if (chunked) {
            body = chunkedBody(in);
        } else if (length >= 0) {
            body = exactly(in, length);
        } else {
            body = in.readAllBytes();
        }
        return new Reply(status, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] chunkedBody(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = line(in);
            int semicolon = sizeLine.indexOf(';');
            long size;
            try {
                size = Long.parseLong((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).strip(), 16);
            } catch (NumberFormatException e) {
                throw new IOException("bad chunk size: " + sizeLine);
            }
            if (size == 0) {
                while (!line(in).isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            body.write(exactly(in, size));
            if (!line(in).isEmpty()) throw new IOException("chunk not followed by CRLF");
        }
    }

    private static byte[] exactly(InputStream in, long length) throws IOException {
        if (length > Integer.MAX_VALUE - 8) throw new IOException("reply too large");
        byte[] bytes = in.readNBytes((int) length);
        if (bytes.length < length) throw new EOFException();
        return bytes;
    }

    /** A header line without its CRLF (or LF). */
    private static String line(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b < 0) throw new EOFException();
            if (b == '\n') break;
            line.append((char) b);
            if (line.length() > MAX_HEADER_BYTES) throw new IOException("header line too long");
        }
        int n = line.length();
        if (n > 0 && line.charAt(n - 1) == '\r') line.setLength(n - 1);
        return line.toString();
    }
}
