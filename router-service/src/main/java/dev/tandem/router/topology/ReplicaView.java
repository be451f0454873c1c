package dev.tandem.router.topology;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;

/**
 * What the router last learned about one replica. {@code info} is null until the first Info
 * answer. {@code healthy} means the most recent poll answered and is recent enough to route by.
 */
public record ReplicaView(String id, String address, ReplicaInfo info, EpochHistory history, boolean healthy,
                          long lastSeenNanos, String lastError) {

    public Role role() {
        return info == null ? Role.ROLE_UNASSIGNED : info.getRole();
    }

    public long epoch() {
        return info == null ? 0 : info.getEpoch();
    }

    public long appliedLsn() {
        return info == null ? 0 : info.getAppliedLsn();
    }

    /** The applied position as this replica's own history names it. */
    public LogPosition appliedPosition() {
        return history.positionOf(appliedLsn());
    }

    public boolean isLeaderAcceptingWrites() {
        return healthy && info != null && info.getRole() == Role.ROLE_LEADER && info.getAcceptingWrites();
    }

    /** A follower a read may go to: answering, following, and connected to its leader. */
    public boolean isServingFollower() {
        return healthy && info != null && info.getRole() == Role.ROLE_FOLLOWER && info.getStreaming();
    }

    /** Whether, as of its last Info, this replica has applied {@code position} (see {@link EpochHistory#coverage}). */
    public EpochHistory.Coverage coverage(LogPosition position) {
        return history.coverage(position, appliedLsn());
    }
}
