package dev.tandem.replica.core;

import java.util.ArrayDeque;

/**
 * A leader's view of one follower: what it has made durable (from acks), where the shipping
 * cursor stands, and how many shipped bytes it has not acknowledged yet. Mutable; owned by the
 * leader's {@link ReplicaCore} and discarded when that replica stops leading.
 */
final class FollowerTracker {

    /** One shipped batch not yet covered by an ack: its last lsn and its size in bytes. */
    private record InFlightBatch(long lastLsn, long bytes) {}

    final String followerId;
    long flushedLsn;
    long appliedLsn;
    /** Highest lsn shipped (or known present on the follower): the next batch starts after it. */
    long sentLsn;
    long lastHeardMs;
    long lastSentMs;
    boolean streaming;

    /**
     * A deposed leader subscribes holding entries we never wrote. Until it has provably truncated
     * them, an ack of a flushed lsn in (divergenceStartLsn, divergentUpToLsn] may describe those
     * entries rather than ours (it can be sent before the follower read our Truncate), so such acks
     * count only up to divergenceStartLsn. Zero when the follower's log is a prefix of ours.
     */
    private long divergenceStartLsn;
    private long divergentUpToLsn;

    private final ArrayDeque<InFlightBatch> inFlight = new ArrayDeque<>();
    private long inFlightBytes;

    FollowerTracker(String followerId) {
        this.followerId = followerId;
    }

    /** A new stream: the follower holds our log up to {@code commonLsn}, its own up to {@code followerLastLsn}. */
    void subscribed(long nowMs, long commonLsn, long followerLastLsn) {
        streaming = true;
        lastHeardMs = nowMs;
        lastSentMs = nowMs;
        sentLsn = commonLsn;
        // The follower's own report of its log end is authoritative: what it no longer holds
        // (or holds from another history) must not count towards any write concern.
        flushedLsn = Math.min(flushedLsn, commonLsn);
        appliedLsn = Math.min(appliedLsn, commonLsn);
        if (followerLastLsn > commonLsn) {
            divergenceStartLsn = commonLsn;
            divergentUpToLsn = followerLastLsn;
        } else {
            divergenceStartLsn = 0;
            divergentUpToLsn = 0;
        }
        clearInFlight();
    }

    void acked(long nowMs, long ackFlushedLsn, long ackAppliedLsn) {
        lastHeardMs = nowMs;
        long flushed = ackFlushedLsn;
        if (divergentUpToLsn > 0) {
            if (flushed > divergentUpToLsn) {
                divergenceStartLsn = 0;
                divergentUpToLsn = 0;
            } else if (flushed > divergenceStartLsn) {
                flushed = divergenceStartLsn;
            }
        }
        // Only what we shipped on this stream (or verified at subscribe) can be our entries.
        flushed = Math.min(flushed, sentLsn);
        flushedLsn = Math.max(flushedLsn, flushed);
        appliedLsn = Math.max(appliedLsn, Math.min(ackAppliedLsn, flushedLsn));
        while (!inFlight.isEmpty() && inFlight.peekFirst().lastLsn() <= ackFlushedLsn) {
            inFlightBytes -= inFlight.pollFirst().bytes();
        }
    }

    void shipped(long nowMs, long lastLsn, long bytes) {
        sentLsn = lastLsn;
        lastSentMs = nowMs;
        inFlight.addLast(new InFlightBatch(lastLsn, bytes));
        inFlightBytes += bytes;
    }

    void disconnected() {
        streaming = false;
        clearInFlight();
    }

    long inFlightBytes() {
        return inFlightBytes;
    }

    private void clearInFlight() {
        inFlight.clear();
        inFlightBytes = 0;
    }
}
