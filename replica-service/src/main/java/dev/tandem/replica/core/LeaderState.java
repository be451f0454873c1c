package dev.tandem.replica.core;

import java.util.LinkedHashMap;
import java.util.Map;

/** What a replica knows only while it leads one epoch; dropped when it is deposed. */
final class LeaderState<W> {

    final long promotedAtMs;
    /** First lsn of our epoch: older entries were written by earlier leaders. */
    final long epochStartLsn;
    boolean steppingDown;
    final Map<String, FollowerTracker> followers = new LinkedHashMap<>();
    final PendingWrites<W> pending = new PendingWrites<>();
    final AssignTimes assignTimes;

    LeaderState(long promotedAtMs, long epochStartLsn, long maxAssignTimes) {
        this.promotedAtMs = promotedAtMs;
        this.epochStartLsn = epochStartLsn;
        this.assignTimes = new AssignTimes(maxAssignTimes);
    }

    FollowerTracker follower(String followerId) {
        return followers.computeIfAbsent(followerId, FollowerTracker::new);
    }
}
