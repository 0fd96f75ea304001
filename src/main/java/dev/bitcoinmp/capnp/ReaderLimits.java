package dev.bitcoinmp.capnp;

/**
 * What one incoming message may cost, checked before anything is allocated for it. Defaults follow the
 * C++ implementation: 8 Mi words (64 MiB) of traversal, nesting depth 64, at most 512 segments.
 *
 * @param maxFrameWords the largest frame accepted, in 8-byte words (segments only)
 * @param traversalWords how many words reading one message may visit
 * @param nestingLimit how deep pointers may nest
 * @param maxSegments the most segments one frame may have
 */
public record ReaderLimits(long maxFrameWords, long traversalWords, int nestingLimit, int maxSegments) {

    public static final ReaderLimits DEFAULT = new ReaderLimits(8L << 20, 8L << 20, 64, 512);

    public ReaderLimits {
        if (maxFrameWords <= 0 || maxFrameWords > Integer.MAX_VALUE / 8) throw new IllegalArgumentException("maxFrameWords");
        if (traversalWords <= 0 || nestingLimit <= 0 || maxSegments <= 0) throw new IllegalArgumentException("limits must be positive");
    }
}
