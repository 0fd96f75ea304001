package dev.bitcoinmp.capnp;

import java.util.ArrayList;
import java.util.List;

/**
 * A map from int keys (ids the peer chose) to values, without an entry object per mapping: open addressing
 * with linear probing. Not thread-safe. Null values are not allowed.
 */
final class IntMap<V> {

    private int[] keys = new int[16];
    private Object[] values = new Object[16];   // null marks a free slot
    private int size;

    @SuppressWarnings("unchecked")
    V get(int key) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); values[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) return (V) values[i];
        }
        return null;
    }

    boolean containsKey(int key) {
        return get(key) != null;
    }

    /** Maps {@code key} to {@code value} (not null), replacing what it mapped to. */
    void put(int key, V value) {
        if (value == null) throw new NullPointerException("value");
        if (2 * (size + 1) > keys.length) grow();
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (values[i] != null) {
            if (keys[i] == key) {
                values[i] = value;
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    /** Removes the mapping of {@code key}; returns its value, or null if there was none. */
    @SuppressWarnings("unchecked")
    V remove(int key) {
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (values[i] != null && keys[i] != key) i = (i + 1) & mask;
        V removed = (V) values[i];
        if (removed == null) return null;
        // Backward-shift deletion: move later entries of the probe run into the hole so lookups still find them.
        int hole = i;
        for (int j = (hole + 1) & mask; values[j] != null; j = (j + 1) & mask) {
            int home = slot(keys[j], mask);
            // The entry at j may fill the hole if its home slot is not cyclically within (hole, j].
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        values[hole] = null;
        size--;
        return removed;
    }

    int size() {
        return size;
    }

    /** The values, in no particular order, as a new list. */
    @SuppressWarnings("unchecked")
    List<V> values() {
        List<V> out = new ArrayList<>(size);
        for (Object value : values) if (value != null) out.add((V) value);
        return out;
    }

    void clear() {
        java.util.Arrays.fill(values, null);
        size = 0;
    }

    private static int slot(int key, int mask) {
        int h = key * 0x9E3779B9;   // Fibonacci hashing spreads consecutive ids
        return (h ^ (h >>> 16)) & mask;
    }

    private void grow() {
        int[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new int[oldKeys.length * 2];
        values = new Object[oldValues.length * 2];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != null) put(oldKeys[i], unchecked(oldValues[i]));
        }
    }

    @SuppressWarnings("unchecked")
    private V unchecked(Object value) {
        return (V) value;
    }
}
