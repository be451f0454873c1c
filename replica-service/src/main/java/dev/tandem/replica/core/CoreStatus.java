package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import java.util.List;

/** A snapshot of what the core knows, for status RPCs, metrics and readiness. */
public record CoreStatus(
        String selfId,
        Role role,
        long epoch,
        String leaderId,
        List<String> members,
        LogPosition last,
        long flushedLsn,
        long logStartLsn,
        EpochHistory history,
        boolean acceptingWrites,
        boolean steppingDown,
        /** follower: the leader's last lsn as last heard, and how stale we are in ms */
        long leaderLastLsn,
        long stalenessMs,
        boolean streaming,
        List<FollowerProgress> followers) {

    /** Leader's view of one follower. */
    public record FollowerProgress(String followerId, long flushedLsn, long appliedLsn, long lagEntries,
                                   long lagMs, long lastHeardMsAgo, boolean streaming) {}
}
