package dev.tandem.controller.planner;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;

/**
 * What the controller knows about one replica after the latest probe round. When the latest
 * probe failed, {@code reachable} is false and the positions are those of the last successful
 * probe (or zero), kept only to report what an unsafe promotion may lose.
 *
 * @param flushed the position of the replica's last flushed entry (epoch from its own history):
 *                what it provably holds, and what candidates are ranked by
 */
public record ReplicaView(String id, boolean reachable, int consecutiveFailures, Role role, long epoch,
                          String leaderId, LogPosition last, LogPosition flushed, boolean acceptingWrites,
                          boolean streaming, long stalenessMs, long firstFailureAtMs) {

    public static ReplicaView of(ReplicaInfo info) {
        EpochHistory h = EpochHistory.fromProto(info.getHistoryList());
        LogPosition last = LogPosition.of(info.getLast());
        long flushedLsn = Math.min(info.getFlushedLsn(), last.lsn());
        // The history names the epoch of the flushed entry; if it is empty (old log), the last
        // entry's epoch is the best bound we have when flushed == last.
        LogPosition flushed = h.isEmpty()
                ? (flushedLsn == last.lsn() ? last : new LogPosition(0, flushedLsn))
                : h.positionOf(flushedLsn);
        return new ReplicaView(info.getReplicaId(), true, 0, info.getRole(), info.getEpoch(), info.getLeaderId(),
                last, flushed, info.getAcceptingWrites(), info.getStreaming(), info.getStalenessMs(), 0);
    }

    /** The replica did not answer; {@code previous} (may be null) is what we knew before. */
    public static ReplicaView unreachable(String id, int failures, long firstFailureAtMs, ReplicaView previous) {
        if (previous == null) {
            return new ReplicaView(id, false, failures, Role.ROLE_UNASSIGNED, 0, "", LogPosition.ZERO,
                    LogPosition.ZERO, false, false, 0, firstFailureAtMs);
        }
        return new ReplicaView(id, false, failures, previous.role(), previous.epoch(), previous.leaderId(),
                previous.last(), previous.flushed(), false, false, previous.stalenessMs(), firstFailureAtMs);
    }

    /** Same facts, as a successful probe after {@code failures} = 0. */
    public ReplicaView answered() {
        return new ReplicaView(id, true, 0, role, epoch, leaderId, last, flushed, acceptingWrites, streaming, stalenessMs, 0);
    }

    public boolean isLeaderOf(long e) {
        return reachable && role == Role.ROLE_LEADER && epoch == e;
    }

    public boolean followsIn(long e, String leader) {
        return reachable && role == Role.ROLE_FOLLOWER && epoch == e && leader.equals(leaderId);
    }
}
