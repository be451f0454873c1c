package dev.tandem.replica.core;

/**
 * When the leader assigned each lsn, for lag in milliseconds. Lsns are assigned consecutively, so
 * a ring of times indexed by (lsn - firstLsn) is enough. Bounded: the leader forgets times of
 * entries every follower has flushed, and keeps at most {@code maxEntries} in any case.
 */
final class AssignTimes {

    private final long maxEntries;
    private long[] ring = new long[64];
    private int head;
    private int size;
    private long firstLsn;

    AssignTimes(long maxEntries) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be >= 1, got " + maxEntries);
        }
        this.maxEntries = maxEntries;
    }

    void record(long lsn, long assignedMs) {
        if (size > 0 && lsn != firstLsn + size) {
            throw new IllegalStateException("lsn " + lsn + " does not follow " + (firstLsn + size - 1));
        }
        if (size == 0) {
            firstLsn = lsn;
            head = 0;
        }
        if (size == ring.length) {
            grow();
        }
        ring[(head + size) % ring.length] = assignedMs;
        size++;
        while (size > maxEntries) {
            dropFirst();
        }
    }

    /** Forget every lsn up to and including {@code lsn}. */
    void forgetThrough(long lsn) {
        while (size > 0 && firstLsn <= lsn) {
            dropFirst();
        }
    }

    /** Assign time of {@code lsn}; of the oldest lsn remembered if it is older; {@code fallbackMs} if none. */
    long assignedMsAtOrAfter(long lsn, long fallbackMs) {
        if (size == 0 || lsn >= firstLsn + size) {
            return fallbackMs;
        }
        long index = Math.max(0, lsn - firstLsn);
        return ring[(int) ((head + index) % ring.length)];
    }

    private void dropFirst() {
        head = (head + 1) % ring.length;
        size--;
        firstLsn++;
    }

    private void grow() {
        long[] bigger = new long[ring.length * 2];
        for (int i = 0; i < size; i++) {
            bigger[i] = ring[(head + i) % ring.length];
        }
        ring = bigger;
        head = 0;
    }
}
