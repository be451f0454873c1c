package dev.tandem.replica.storage;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The newest state of keys recently staged or read while staging, so that staging a write need
 * not ask RocksDB for the state of its keys. That lookup, a memtable search, was the largest
 * native cost of the driver thread: the leader reads each key twice per write (its condition and
 * its undo record), a follower once (the undo record).
 *
 * <p>Exact, never a guess: a key's state is recorded as each entry is staged (a staged batch is
 * always committed, or the process halts), filled from the store only when no staged batch holds
 * the key, and everything is forgotten when the data changes any other way (truncation, snapshot
 * install). Bounded in keys and in bytes; the key staged or read longest ago goes first. Driver
 * thread only.
 */
final class RecentStates {

    /** Per-key bookkeeping counted against the byte bound, besides the key and value bytes. */
    private static final int OVERHEAD_BYTES = 96;

    private final int maxKeys;
    private final long maxBytes;
    private final LinkedHashMap<String, Optional<StoredValue>> states = new LinkedHashMap<>();
    private long bytes;

    RecentStates(int maxKeys, long maxBytes) {
        this.maxKeys = maxKeys;
        this.maxBytes = maxBytes;
    }

    /** The key's newest state (empty: it does not exist), or null when not known here. */
    Optional<StoredValue> get(String key) {
        return states.get(key);
    }

    void put(String key, Optional<StoredValue> state) {
        Optional<StoredValue> old = states.remove(key);
        if (old != null) {
            bytes -= size(key, old);
        }
        long size = size(key, state);
        if (size > maxBytes) {
            return;
        }
        states.put(key, state);
        bytes += size;
        Iterator<Map.Entry<String, Optional<StoredValue>>> oldest = states.entrySet().iterator();
        while (states.size() > maxKeys || bytes > maxBytes) {
            Map.Entry<String, Optional<StoredValue>> e = oldest.next();
            bytes -= size(e.getKey(), e.getValue());
            oldest.remove();
        }
    }

    void clear() {
        states.clear();
        bytes = 0;
    }

    int size() {
        return states.size();
    }

    long bytes() {
        return bytes;
    }

    private static long size(String key, Optional<StoredValue> state) {
        // Heap use: a Java string holds at most two bytes per char.
        long n = OVERHEAD_BYTES + 2L * key.length();
        if (state.isPresent()) {
            StoredValue v = state.get();
            n += v.value().length + (v.contentType() == null ? 0 : 2L * v.contentType().length());
        }
        return n;
    }
}
