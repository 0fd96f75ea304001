package dev.bitcoinmp.capnp;

/** The peer sent bytes that are not a valid message of the protocol: the connection is aborted. */
public final class MalformedMessageException extends RuntimeException {
    public MalformedMessageException(String message) {
        super(message);
    }
}
