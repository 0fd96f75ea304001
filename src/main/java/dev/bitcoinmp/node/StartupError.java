package dev.bitcoinmp.node;

/** Start-up cannot go on: the message is printed on stderr as it is, and the process exits 1. */
public final class StartupError extends RuntimeException {
    public StartupError(String message) {
        super(message, null, false, false);
    }
}
