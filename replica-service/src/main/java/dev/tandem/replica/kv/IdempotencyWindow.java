package dev.tandem.replica.kv;

import dev.tandem.common.LogPosition;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Request ids of recent writes and the position each got, so that a retry (after a timeout, or
 * to another leader after failover) is applied once. Bounded by count and by age (of the entry's
 * leader timestamp). Maintained from the log itself (on the leader as it assigns, on followers
 * as they apply), so it survives failover; rebuilt on start and after a snapshot install from the
 * store's request-id records, which outlive log compaction and travel in snapshots, so it
 * survives restart and re-seeding too. Owned by the driver thread.
 */
public final class IdempotencyWindow {

    private record Seen(LogPosition position, long timestampMs) {}

    private final int maxEntries;
    private final long maxAgeMs;
    private final LinkedHashMap<String, Seen> byId = new LinkedHashMap<>();

    /**
     * @param maxEntries most request ids remembered
     * @param maxAgeMs   a request id is forgotten this long after its entry was written, in ms
     */
    public IdempotencyWindow(int maxEntries, long maxAgeMs) {
        this.maxEntries = maxEntries;
        this.maxAgeMs = maxAgeMs;
    }

    public void record(String requestId, LogPosition position, long timestampMs) {
        if (requestId.isEmpty()) {
            return;
        }
        byId.remove(requestId);
        byId.put(requestId, new Seen(position, timestampMs));
        while (byId.size() > maxEntries) {
            Iterator<String> it = byId.keySet().iterator();
            it.next();
            it.remove();
        }
    }

    /** The position of an earlier write with this id, if it is still within the window. */
    public Optional<LogPosition> lookup(String requestId, long nowMs) {
        if (requestId.isEmpty()) {
            return Optional.empty();
        }
        expire(nowMs);
        Seen s = byId.get(requestId);
        return s == null ? Optional.empty() : Optional.of(s.position());
    }

    /** Forgets ids whose entries were rolled back (lsn > {@code toLsn}). */
    public void truncateAfter(long toLsn) {
        byId.values().removeIf(s -> s.position().lsn() > toLsn);
    }

    public void expire(long nowMs) {
        Iterator<Map.Entry<String, Seen>> it = byId.entrySet().iterator();
        while (it.hasNext()) {
            // Insertion order is lsn order, so the oldest timestamps come first.
            if (nowMs - it.next().getValue().timestampMs() > maxAgeMs) {
                it.remove();
            } else {
                break;
            }
        }
    }

    public int size() {
        return byId.size();
    }

    public void clear() {
        byId.clear();
    }
}
