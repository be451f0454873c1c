package dev.tandem.router.routing;

import dev.tandem.common.EpochHistory.Coverage;
import dev.tandem.common.SessionToken;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import java.util.List;
import java.util.Optional;

/**
 * Chooses the first replica for a read: a pure function of the topology, the consistency and the
 * session token, so that every router makes the same choice for the same session.
 */
public final class ReadPlanner {

    private ReadPlanner() {}

    /**
     * @param sessionWaitMs how long a follower may wait for a session position it has not applied yet
     */
    public static ReadPlan plan(Topology topology, Consistency consistency, SessionToken token, long sessionWaitMs) {
        if (consistency.level() == Consistency.Level.STRONG) {
            return ReadPlan.leaderOnly(ReadPlan.FallbackReason.STRONG);
        }
        List<ReplicaView> followers = topology.servingFollowers();
        if (followers.isEmpty()) {
            return ReadPlan.leaderOnly(ReadPlan.FallbackReason.NO_FOLLOWER);
        }
        switch (consistency.level()) {
            case EVENTUAL:
                // Still pinned: an eventual reader that keeps one follower sees fewer reorderings.
                return ReadPlan.follower(pin(token, followers).orElseThrow().id(), 0);
            case BOUNDED: {
                List<ReplicaView> fresh = followers.stream()
                        .filter(f -> f.info().getStalenessMs() <= consistency.maxStalenessMs()).toList();
                return pin(token, fresh).map(f -> ReadPlan.follower(f.id(), 0))
                        .orElse(ReadPlan.leaderOnly(ReadPlan.FallbackReason.NOT_CAUGHT_UP));
            }
            case SESSION:
            default:
                return planSession(followers, token, sessionWaitMs);
        }
    }

    /**
     * Session reads stick to the session's home follower (rendezvous over serving followers) while
     * it has applied the token; otherwise to a follower that has (rendezvous again, so the choice
     * is stable); otherwise the home follower is asked to wait briefly. A follower whose history
     * says the token's position was rolled back is never asked: only the leader answers for that.
     */
    static ReadPlan planSession(List<ReplicaView> followers, SessionToken token, long sessionWaitMs) {
        ReplicaView home = pin(token, followers).orElseThrow();
        Coverage homeCoverage = home.coverage(token.position());
        if (homeCoverage == Coverage.COVERED) {
            return ReadPlan.follower(home.id(), sessionWaitMs);
        }
        List<ReplicaView> caughtUp = followers.stream().filter(f -> f.coverage(token.position()) == Coverage.COVERED).toList();
        Optional<ReplicaView> other = pin(token, caughtUp);
        if (other.isPresent()) {
            return ReadPlan.follower(other.get().id(), sessionWaitMs);
        }
        if (homeCoverage == Coverage.PENDING && sessionWaitMs > 0) {
            return ReadPlan.follower(home.id(), sessionWaitMs);
        }
        return ReadPlan.leaderOnly(ReadPlan.FallbackReason.NOT_CAUGHT_UP);
    }

    private static Optional<ReplicaView> pin(SessionToken token, List<ReplicaView> candidates) {
        return Rendezvous.pick(token.sessionId(), candidates, ReplicaView::id);
    }
}
