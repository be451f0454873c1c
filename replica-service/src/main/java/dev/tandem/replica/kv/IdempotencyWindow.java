package dev.tandem.replica.kv;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Request ids of recent writes, the position each got and the fingerprint of what it asked for
 * ({@link RequestFingerprint}), so that a retry (after a timeout, or to another leader after
 * failover) is applied once, and a request id reused for a different write is told apart from a
 * retry instead of being answered with another write's outcome. Bounded by count and by age (of the entry's
 * leader timestamp). Maintained from the log itself (on the leader as it assigns, on followers
 * as they apply), so it survives failover; rebuilt on start and after a snapshot install from the
 * store's request-id records, which outlive log compaction and travel in snapshots, so it
 * survives restart and re-seeding too. Owned by the driver thread.
 */
public final class IdempotencyWindow {

    private record Seen(LogPosition position, long timestampMs, ByteString fingerprint) {}

    /**
     * An earlier write with the request id: where it is in the log and the fingerprint of its
     * ops, empty when it was logged before replicas recorded fingerprints.
     */
    public record Earlier(LogPosition position, ByteString fingerprint) {

        /**
         * Whether a request with {@code fingerprint} is a retry of this write. A write logged
         * without a fingerprint cannot be compared and counts as a retry, as every retry did
         * before fingerprints existed; those age out of the window within its bounds.
         */
        public boolean isRetryOf(ByteString fingerprint) {
            return this.fingerprint.isEmpty() || this.fingerprint.equals(fingerprint);
        }
    }

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

    /**
     * @param fingerprint the write's {@link RequestFingerprint}; empty for an entry logged before
     *                    fingerprints existed
     */
    public void record(String requestId, LogPosition position, long timestampMs, ByteString fingerprint) {
        if (requestId.isEmpty()) {
            return;
        }
        byId.remove(requestId);
        byId.put(requestId, new Seen(position, timestampMs, fingerprint));
        while (byId.size() > maxEntries) {
            Iterator<String> it = byId.keySet().iterator();
            it.next();
            it.remove();
        }
    }

    /** The earlier write with this id, if it is still within the window. */
    public Optional<Earlier> lookup(String requestId, long nowMs) {
        if (requestId.isEmpty()) {
            return Optional.empty();
        }
        expire(nowMs);
        Seen s = byId.get(requestId);
        return s == null ? Optional.empty() : Optional.of(new Earlier(s.position(), s.fingerprint()));
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
