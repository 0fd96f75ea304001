package dev.bitcoinmp.cli;

/** A failure bitcoin-cli reports as {@code error: <message>} on stderr with exit code 1 (Core's runtime_error). */
class CliError extends RuntimeException {
    CliError(String message) {
        super(message, null, false, false);
    }
}
