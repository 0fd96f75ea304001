package dev.bitcoinmp.capnp;

/**
 * Messages queued for writing, in order. Each entry is an object that gives a built message (see
 * {@code RpcConnection.frame}), or a small message (see {@link SmallMessage}) kept as its tag and data word:
 * the Finish and Release of every call cost no object.
 */
final class Outbox {

    private Object[] messages = new Object[16];   // null where the entry is a small message
    private short[] smallTags = new short[16];
    private long[] smallData = new long[16];
    private int size;

    void add(Object message) {
        if (message == null) throw new NullPointerException("message");
        ensureRoom();
        messages[size++] = message;
    }

    void addSmall(short tag, long data) {
        ensureRoom();
        smallTags[size] = tag;
        smallData[size] = data;
        size++;
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** The message of entry {@code i}, or null if it is a small message. */
    Object message(int i) {
        return messages[i];
    }

    short smallTag(int i) {
        return smallTags[i];
    }

    long smallData(int i) {
        return smallData[i];
    }

    /** Appends the entries of {@code other}, in order. */
    void addAll(Outbox other) {
        for (int i = 0; i < other.size; i++) {
            if (other.messages[i] != null) add(other.messages[i]);
            else addSmall(other.smallTags[i], other.smallData[i]);
        }
    }

    void clear() {
        java.util.Arrays.fill(messages, 0, size, null);
        size = 0;
    }

    private void ensureRoom() {
        if (size < messages.length) return;
        messages = java.util.Arrays.copyOf(messages, 2 * size);
        smallTags = java.util.Arrays.copyOf(smallTags, 2 * size);
        smallData = java.util.Arrays.copyOf(smallData, 2 * size);
    }
}
