package dev.tandem.replica.grpc;

import dev.tandem.common.EpochHistory;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowerStatus;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.replica.core.CoreStatus;
import dev.tandem.replica.core.Role;
import dev.tandem.replica.node.NodeView;
import dev.tandem.replica.node.ReplicaNode;
import dev.tandem.replica.storage.ReplicaStore;

/** Builds the public views (Info, Status) from the driver's published {@link NodeView}. */
public final class Protos {

    private Protos() {}

    public static Error error(ErrorCode code, String message) {
        return Error.newBuilder().setCode(code).setMessage(message).setOpIndex(-1).build();
    }

    public static dev.tandem.proto.Role role(Role r) {
        return switch (r) {
            case LEADER -> dev.tandem.proto.Role.ROLE_LEADER;
            case FOLLOWER -> dev.tandem.proto.Role.ROLE_FOLLOWER;
            default -> dev.tandem.proto.Role.ROLE_UNASSIGNED;
        };
    }

    public static ReplicaInfo info(ReplicaNode node, NodeView v) {
        CoreStatus s = v.status();
        long lag = s.role() == Role.FOLLOWER ? Math.max(0, s.leaderLastLsn() - v.appliedLsn()) : 0;
        EpochHistory h = v.history();
        return ReplicaInfo.newBuilder()
                .setReplicaId(node.settings().id())
                .setAddress(node.settings().advertisedAddress())
                .setRole(role(s.role()))
                .setEpoch(s.epoch())
                .setLeaderId(s.leaderId() == null ? "" : s.leaderId())
                .setLeaderAddress(v.leaderAddress())
                .setLast(v.applied().toProto())
                .setReceivedLsn(v.receivedLsn())
                .setFlushedLsn(v.flushedLsn())
                .setAppliedLsn(v.appliedLsn())
                .addAllHistory(h.toProto())
                .setAcceptingWrites(s.role() == Role.LEADER && s.acceptingWrites())
                .setStreaming(s.role() == Role.FOLLOWER && s.streaming())
                .setStalenessMs(s.role() == Role.FOLLOWER ? s.stalenessMs() : 0)
                .setLagEntries(lag)
                .addAllMembers(s.members())
                .setDefaultWriteConcern(node.settings().defaultWriteConcern())
                .build();
    }

    public static StatusResponse status(ReplicaNode node, NodeView v, boolean includeDigest) {
        StatusResponse.Builder b = StatusResponse.newBuilder().setInfo(info(node, v))
                .setLogStartLsn(node.store().logStartLsn())
                .setRolledBackEntries(v.rolledBackEntries());
        if (v.status().role() == Role.LEADER) {
            for (CoreStatus.FollowerProgress f : v.status().followers()) {
                b.addFollowers(FollowerStatus.newBuilder().setFollowerId(f.followerId()).setFlushedLsn(f.flushedLsn())
                        .setAppliedLsn(f.appliedLsn()).setLagEntries(f.lagEntries()).setLagSeconds(f.lagMs() / 1000.0)
                        .setLastHeardMsAgo(f.lastHeardMsAgo()).setStreaming(f.streaming()));
            }
        }
        if (includeDigest) {
            ReplicaStore.Digest d = node.store().digest();
            b.setDigest(d.sha256Hex()).setDigestLsn(d.applied().lsn());
        }
        return b.build();
    }

    static WriteConcern concernOrDefault(WriteConcern c, WriteConcern def) {
        return c == WriteConcern.WRITE_CONCERN_DEFAULT ? def : c;
    }
}
