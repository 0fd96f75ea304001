package dev.bitcoinmp.cli;

/**
 * The node could not be reached, or is still starting: the failures {@code -rpcwait} waits through (Core's
 * CConnectionFailed). Without {@code -rpcwait}, or when its time is up, reported as
 * {@code error: timeout on transient error: <message>}.
 */
final class ConnectionFailed extends CliError {
    ConnectionFailed(String message) {
        super(message);
    }
}
