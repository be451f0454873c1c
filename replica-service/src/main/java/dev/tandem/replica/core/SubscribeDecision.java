package dev.tandem.replica.core;

import dev.tandem.proto.ErrorCode;

/** What a leader does with a follower that opened a stream and told it where its log ends. */
public sealed interface SubscribeDecision {

    /** The follower's log is a prefix of ours: ship from {@code fromLsn}. */
    record Stream(long fromLsn) implements SubscribeDecision {}

    /**
     * The follower holds entries we do not (a deposed leader): it must drop everything after
     * {@code toLsn} (each dropped entry to its rollback file), then we ship from toLsn + 1.
     */
    record Truncate(long toLsn) implements SubscribeDecision {}

    /** What the follower needs is no longer in our log: it must install a snapshot first. */
    record Snapshot(long logStartLsn) implements SubscribeDecision {}

    /** Not leader, or the follower is in a newer epoch than we are. */
    record Reject(ErrorCode code, String reason) implements SubscribeDecision {}
}
