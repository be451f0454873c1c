package dev.tandem.router.topology;

import dev.tandem.proto.Role;
import java.util.List;
import java.util.Optional;

/**
 * An immutable picture of the replica set as the router last polled it. Routing decisions are
 * pure functions of a Topology, so they can be tested without processes.
 */
public record Topology(List<ReplicaView> replicas) {

    public Topology {
        replicas = List.copyOf(replicas);
    }

    /**
     * The replica that takes writes: among healthy replicas claiming LEADER and accepting writes,
     * the one in the highest epoch. An old leader that has not yet heard of a newer epoch may still
     * claim leadership; the higher epoch wins, and the old one's lease stops it accepting writes.
     */
    public Optional<ReplicaView> leader() {
        ReplicaView best = null;
        for (ReplicaView r : replicas) {
            if (r.isLeaderAcceptingWrites() && (best == null || r.epoch() > best.epoch())) {
                best = r;
            }
        }
        return Optional.ofNullable(best);
    }

    /**
     * The replica that answers reads meant for the leader: the write leader if there is one, else a
     * healthy replica claiming LEADER in the highest epoch even if its lease lapsed (it still holds
     * the newest history; strong reads are refused by the replica itself without a lease).
     */
    public Optional<ReplicaView> readLeader() {
        Optional<ReplicaView> l = leader();
        if (l.isPresent()) {
            return l;
        }
        ReplicaView best = null;
        for (ReplicaView r : replicas) {
            if (r.healthy() && r.role() == Role.ROLE_LEADER && (best == null || r.epoch() > best.epoch())) {
                best = r;
            }
        }
        return Optional.ofNullable(best);
    }

    /** Highest epoch any healthy replica reports, 0 if none answered. */
    public long highestEpoch() {
        long e = 0;
        for (ReplicaView r : replicas) {
            if (r.healthy()) {
                e = Math.max(e, r.epoch());
            }
        }
        return e;
    }

    /**
     * Followers a read may go to: serving, and not in an epoch older than the leader's (such a
     * follower is attached to a deposed leader and would only fall further behind).
     */
    public List<ReplicaView> servingFollowers() {
        long minEpoch = leader().map(ReplicaView::epoch).orElse(0L);
        return replicas.stream().filter(r -> r.isServingFollower() && r.epoch() >= minEpoch).toList();
    }

    public Optional<ReplicaView> byId(String id) {
        return replicas.stream().filter(r -> r.id().equals(id)).findFirst();
    }

    public long count(Role role) {
        return replicas.stream().filter(r -> r.healthy() && r.role() == role).count();
    }
}
