package dev.tandem.router.cache;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KeyChange;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keys read from one follower, kept exact by that follower's change stream ({@code KvService.Changes}),
 * so that a read it can answer costs the router no replica call. It holds only keys a read put in
 * ({@link #offer}); the stream updates those and nothing else.
 *
 * <p>What makes it exact. While one stream lasts (a <em>generation</em>) the follower's log is never
 * truncated (the stream ends first), so lsn order is log order. The cache is "as of" the stream's
 * applied position S: every change up to S to a cached key has been applied. A key read from the
 * follower at position Q is taken in only if Q ≥ S in the same generation: a change in (S, Q] is then
 * still to come, and is skipped because it is not newer than what the read returned; a read with
 * Q < S could have missed a change the stream already delivered while the key was not cached, so it
 * is refused. When the stream ends, for whatever reason, everything is dropped.
 *
 * <p>Thread-safety: the stream and offers change the cache under its lock; lookups take no lock.
 * A lookup may see a key changed by an event whose position it has not published yet, so the answer
 * is given at the later of the two positions: the key's value at its own version is exact.
 */
public final class ReadCache {

    /** A cached answer and the position it is exact at. */
    public record Hit(GetResponse response, LogPosition position) {}

    /** The stream's state: the follower's history and applied position, and when it last spoke. */
    private record Feed(EpochHistory history, LogPosition applied, long lastEventNanos) {}

    /** One key: the answer a get gets (found or not) and the position that answer is exact at. */
    private record Entry(GetResponse response, LogPosition asOf, long bytes) {}

    /** Object and map overhead counted for each entry, in bytes, on top of the key and value. */
    private static final long ENTRY_OVERHEAD_BYTES = 160;

    private final String replicaId;
    private final long maxBytes;
    private final long maxEntryBytes;
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
    /** Keys in the order they came in: the first in is the first evicted. Under the lock. */
    private final ArrayDeque<String> order = new ArrayDeque<>();
    private volatile Feed feed;
    private volatile long generation;
    private long bytes;

    /**
     * @param maxBytes what the entries may hold at most, in bytes (keys, values and overhead); an
     *                 entry over a sixteenth of it is never cached
     */
    public ReadCache(String replicaId, long maxBytes) {
        this.replicaId = replicaId;
        this.maxBytes = maxBytes;
        this.maxEntryBytes = maxBytes / 16;
    }

    public String replicaId() {
        return replicaId;
    }

    /**
     * The first event of a new stream: starts a new generation, empty, as of its position. Throws
     * IllegalArgumentException for an event without a valid history (the stream is then dropped).
     */
    public synchronized void start(ChangeEvent first, long nowNanos) {
        EpochHistory history = EpochHistory.fromProto(first.getHistoryList());
        clear();
        feed = new Feed(history, LogPosition.of(first.getApplied()), nowNanos);
        applyChanges(first);
    }

    /** A later event of the current stream: updates the cached keys it changes, then its position. */
    public synchronized void apply(ChangeEvent event, long nowNanos) {
        Feed f = feed;
        if (f == null) {
            return; // stopped meanwhile; the stream is being dropped
        }
        applyChanges(event);
        EpochHistory history = event.getHistoryCount() > 0 ? EpochHistory.fromProto(event.getHistoryList()) : f.history();
        feed = new Feed(history, LogPosition.of(event.getApplied()), nowNanos);
    }

    private void applyChanges(ChangeEvent event) {
        for (KeyChange c : event.getChangesList()) {
            Entry e = entries.get(c.getKey());
            if (e == null || c.getVersion().getLsn() <= e.asOf().lsn()) {
                continue; // not cached, or a change the cached read already reflects
            }
            GetResponse r = c.getDeleted()
                    ? GetResponse.newBuilder().setFound(false).build()
                    : GetResponse.newBuilder().setFound(true).setValue(c.getValue()).setContentType(c.getContentType()).setVersion(c.getVersion()).build();
            long size = sizeOf(c.getKey(), r);
            if (size > maxEntryBytes) {
                remove(c.getKey(), e); // grew too large to keep: drop it rather than keep it stale
            } else {
                entries.put(c.getKey(), new Entry(r, LogPosition.of(c.getVersion()), size));
                bytes += size - e.bytes();
            }
        }
        evictOverBudget();
    }

    /** The stream ended: forget everything; a read taken in before now can no longer be offered. */
    public synchronized void stop() {
        clear();
        feed = null;
    }

    private void clear() {
        generation++;
        entries.clear();
        order.clear();
        bytes = 0;
    }

    /** Whether a stream is live: started, and heard from within {@code maxSilenceNanos}. */
    public boolean following(long nowNanos, long maxSilenceNanos) {
        Feed f = feed;
        return f != null && nowNanos - f.lastEventNanos() <= maxSilenceNanos;
    }

    /** Read before asking the follower; {@link #offer} takes the answer only if it is still the same. */
    public long generation() {
        return generation;
    }

    /**
     * The cached answer for {@code key}, or null. With a {@code sessionPosition}, only if the stream
     * has applied it (by the follower's own epoch history, so a position it rolled back never is);
     * null means any position will do (eventual reads).
     */
    public Hit lookup(String key, LogPosition sessionPosition, long nowNanos, long maxSilenceNanos) {
        Feed f = feed;
        if (f == null || nowNanos - f.lastEventNanos() > maxSilenceNanos) {
            return null;
        }
        Entry e = entries.get(key);
        if (e == null) {
            return null;
        }
        if (sessionPosition != null && f.history().coverage(sessionPosition, f.applied().lsn()) != EpochHistory.Coverage.COVERED) {
            return null;
        }
        return new Hit(e.response(), e.asOf().lsn() > f.applied().lsn() ? e.asOf() : f.applied());
    }

    /**
     * Takes in a get the follower answered at {@code readAt}, if the stream had not gone past that
     * position and no new generation began since {@code generation} was read (see the class comment).
     * Returns whether it was taken.
     */
    public synchronized boolean offer(String key, GetResponse answer, LogPosition readAt, long generation) {
        Feed f = feed;
        if (f == null || generation != this.generation || readAt.lsn() < f.applied().lsn() || entries.containsKey(key)) {
            return false;
        }
        GetResponse r = answer.getFound()
                ? GetResponse.newBuilder().setFound(true).setValue(answer.getValue()).setContentType(answer.getContentType())
                        .setVersion(answer.getVersion()).build()
                : GetResponse.newBuilder().setFound(false).build();
        long size = sizeOf(key, r);
        if (size > maxEntryBytes) {
            return false;
        }
        // A key that exists is exact at its version (nothing wrote it after, up to readAt); one that
        // does not, at readAt.
        LogPosition asOf = answer.getFound() ? LogPosition.of(answer.getVersion()) : readAt;
        entries.put(key, new Entry(r, asOf, size));
        order.addLast(key);
        bytes += size;
        evictOverBudget();
        return true;
    }

    private void evictOverBudget() {
        while (bytes > maxBytes && !order.isEmpty()) {
            String oldest = order.pollFirst();
            Entry e = entries.remove(oldest);
            if (e != null) {
                bytes -= e.bytes();
            }
        }
    }

    private void remove(String key, Entry e) {
        entries.remove(key);
        order.remove(key);
        bytes -= e.bytes();
    }

    public int entries() {
        return entries.size();
    }

    public synchronized long bytes() {
        return bytes;
    }

    private static long sizeOf(String key, GetResponse r) {
        return ENTRY_OVERHEAD_BYTES + 2L * key.length() + r.getValue().size() + 2L * r.getContentType().length();
    }
}
