package dev.tandem.controller.planner;

import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Decides, from one round of observations, what the controller should do. Pure: no I/O, no
 * clock (the input carries {@code nowMs}), no randomness, so every rule below is a table row in
 * {@code FailoverPlannerTest}.
 *
 * <p>The rules, in order:
 * <ol>
 *   <li>No state: once a majority answers, adopt a replica already leading the newest epoch, or
 *       promote the most advanced one to a new epoch (bootstrap).</li>
 *   <li>A transition in progress: resume it, unless its target has failed (abort; the epoch stays
 *       burned and the next round starts a new failover).</li>
 *   <li>Leader healthy: every other reachable member must follow it in the recorded epoch.</li>
 *   <li>Leader failed (N failed probes, pod deleted, not-ready pod that also fails probes, or it
 *       answers but does not lead the recorded epoch): promote the most advanced
 *       {@code (epoch, flushedLsn)} among the reachable replicas, but only if enough answered to
 *       prove it holds every acknowledged write ({@link Policy#safeQuorum}). Otherwise wait and
 *       say why, or, only if the operator allowed it, promote anyway and report what may be lost.</li>
 * </ol>
 * "Unverifiable" is always "do nothing": a follower still streaming fresh data from the leader
 * proves the leader alive even when our own probes fail, so we wait.
 */
public final class FailoverPlanner {

    private final Policy policy;

    public FailoverPlanner(Policy policy) {
        this.policy = policy;
    }

    public Policy policy() {
        return policy;
    }

    public Decision plan(PlannerInput in) {
        if (in.members().isEmpty()) {
            return new Decision.Blocked("no_replicas", "no replicas configured or discovered");
        }
        if (in.state() == null) {
            return bootstrap(in);
        }
        ClusterState s = in.state();
        if (s.inProgress() != null) {
            return resumeOrAbort(in, s.inProgress());
        }
        if (s.leader() == null || !in.views().containsKey(s.leader())) {
            return failover(in, s, "leader_not_member");
        }
        Optional<String> failure = leaderFailure(in, s);
        if (failure.isEmpty()) {
            return reconcile(in, s);
        }
        return failover(in, s, failure.get());
    }

    // ---- bootstrap -----------------------------------------------------------------------------

    private Decision bootstrap(PlannerInput in) {
        int n = in.members().size();
        List<ReplicaView> reachable = reachable(in);
        if (reachable.size() < Policy.majority(n)) {
            return new Decision.Blocked("bootstrap_waiting_for_majority",
                    reachable.size() + " of " + n + " replicas answer; bootstrap needs a majority (" + Policy.majority(n) + ")");
        }
        long maxEpoch = maxObservedEpoch(in, 0);
        // A replica already leading the newest epoch (the state was lost, the cluster was not):
        // recording it changes nothing on the replicas and loses nothing.
        for (ReplicaView v : reachable) {
            if (v.isLeaderOf(maxEpoch) && maxEpoch > 0) {
                return new Decision.Adopt(maxEpoch, v.id());
            }
        }
        return choose(in, reachable, TransitionKind.BOOTSTRAP, "bootstrap", null, maxEpoch + 1, in.nowMs());
    }

    // ---- transition in progress ----------------------------------------------------------------

    private Decision resumeOrAbort(PlannerInput in, Transition t) {
        ReplicaView target = in.views().get(t.to());
        if (target == null) {
            return new Decision.Abort(t, "target " + t.to() + " is no longer a member");
        }
        if (in.signals().get(t.to()) == PlatformSignal.DELETED) {
            return new Decision.Abort(t, "target " + t.to() + " pod deleted");
        }
        if (!target.reachable() && target.consecutiveFailures() >= policy.failureThreshold()) {
            return new Decision.Abort(t, "target " + t.to() + " failed " + target.consecutiveFailures() + " probes in a row");
        }
        if (t.kind() == TransitionKind.SWITCHOVER && !t.to().equals(t.from()) && t.from() != null
                && !t.step().atLeast(Step.CAUGHT_UP)) {
            // A switchover that cannot step its old leader down (or fall back to it) because that
            // leader is gone must not hold the cluster: give it up, and the next round sees the
            // recorded leader (the target, not leading) failed and starts a failover, which is
            // safe without the old leader (cut-off, quorum rule).
            ReplicaView old = in.views().get(t.from());
            if (old == null || in.signals().get(t.from()) == PlatformSignal.DELETED) {
                return new Decision.Abort(t, "old leader " + t.from() + " is gone before the switchover promoted anyone");
            }
            if (!old.reachable() && old.consecutiveFailures() >= policy.failureThreshold()) {
                return new Decision.Abort(t, "old leader " + t.from() + " failed " + old.consecutiveFailures()
                        + " probes in a row before the switchover promoted anyone");
            }
        }
        return new Decision.Resume(t);
    }

    // ---- leader healthy ------------------------------------------------------------------------

    /** Why the recorded leader counts as failed, or empty when it does not (yet). */
    private Optional<String> leaderFailure(PlannerInput in, ClusterState s) {
        ReplicaView l = in.views().get(s.leader());
        PlatformSignal signal = in.signals().get(s.leader());
        if (signal == PlatformSignal.DELETED) {
            return Optional.of("pod_deleted");
        }
        if (l.reachable()) {
            // It answers, so it tells us itself: a restarted leader comes back UNASSIGNED and
            // never resumes leading by itself; waiting for more probes would only add downtime.
            return l.isLeaderOf(s.epoch()) ? Optional.empty() : Optional.of("leader_not_leading");
        }
        if (signal == PlatformSignal.NOT_READY) {
            return Optional.of("pod_not_ready");
        }
        if (l.consecutiveFailures() >= policy.failureThreshold()) {
            return Optional.of("probe_failed");
        }
        return Optional.empty();
    }

    private Decision reconcile(PlannerInput in, ClusterState s) {
        ReplicaView l = in.views().get(s.leader());
        if (!l.reachable()) {
            return new Decision.Idle("leader " + s.leader() + " missed " + l.consecutiveFailures() + " of "
                    + policy.failureThreshold() + " probes");
        }
        List<String> follow = new ArrayList<>();
        for (Member m : in.members()) {
            ReplicaView v = in.views().get(m.id());
            if (m.id().equals(s.leader()) || !v.reachable()) {
                continue;
            }
            if (v.epoch() > s.epoch()) {
                return new Decision.Blocked("replica_epoch_ahead", m.id() + " is in epoch " + v.epoch()
                        + " but the cluster state records " + s.epoch() + "; refusing to act on a state older than the replicas");
            }
            if (!v.followsIn(s.epoch(), s.leader())) {
                follow.add(m.id());
            }
        }
        return follow.isEmpty() ? new Decision.Idle("steady") : new Decision.Reconcile(follow);
    }

    // ---- leader failed -------------------------------------------------------------------------

    private Decision failover(PlannerInput in, ClusterState s, String reason) {
        ReplicaView failed = in.views().get(s.leader());
        boolean stillWaiting = failed != null && in.nowMs() - failed.firstFailureAtMs() < policy.leaderSeenMaxWaitMs();
        if (reason.equals("probe_failed") && stillWaiting) {
            // Bounded: a follower only notices a silent (paused, not dead) leader when its TCP
            // stream breaks, so "streaming" alone could hold a failover back indefinitely.
            for (ReplicaView v : reachable(in)) {
                if (v.followsIn(s.epoch(), s.leader()) && v.streaming() && v.stalenessMs() <= policy.leaderSeenMaxStalenessMs()) {
                    return new Decision.Blocked("leader_seen_by_followers", v.id() + " still streams from " + s.leader()
                            + " (staleness " + v.stalenessMs() + " ms): the leader is alive, the controller is cut off from it");
                }
            }
        }
        ReplicaView l = in.views().get(s.leader());
        long detectedAt = l != null && l.firstFailureAtMs() > 0 ? l.firstFailureAtMs() : in.nowMs();
        List<ReplicaView> candidates = new ArrayList<>();
        for (ReplicaView v : reachable(in)) {
            if (in.signals().get(v.id()) != PlatformSignal.DELETED) {
                candidates.add(v);
            }
        }
        long newEpoch = maxObservedEpoch(in, s.epoch()) + 1;
        return choose(in, candidates, TransitionKind.FAILOVER, reason, s.leader(), newEpoch, detectedAt);
    }

    /** Promote the most advanced of {@code candidates}, if they prove it safe (or unsafe is allowed). */
    private Decision choose(PlannerInput in, List<ReplicaView> candidates, TransitionKind kind, String reason,
                            String from, long newEpoch, long detectedAtMs) {
        int n = in.members().size();
        int need = policy.safeQuorum(n);
        if (candidates.isEmpty()) {
            return new Decision.Blocked("no_reachable_replica", "none of " + n + " replicas answers");
        }
        ReplicaView best = candidates.stream().max(RANKING).orElseThrow();
        String mayLose = null;
        if (candidates.size() < need) {
            String why = candidates.size() + " of " + n + " replicas answer; proving that a candidate holds every write "
                    + "acknowledged with '" + dev.tandem.common.WriteConcerns.name(policy.minWriteConcern()) + "' needs " + need;
            if (!policy.allowUnsafeFailover()) {
                return new Decision.Blocked("no_safe_candidate", why);
            }
            mayLose = lossRange(in, best) + " (" + why + "; promoted because tandem.controller.allow-unsafe-failover=true)";
        }
        String id = kind.name().toLowerCase() + "-e" + newEpoch + "-" + Long.toString(in.nowMs(), 36);
        return new Decision.Begin(new Transition(id, kind, reason, newEpoch, from, best.id(), Step.RECORDED,
                in.nowMs(), detectedAtMs, 0, mayLose));
    }

    /** The lsn range the candidate lacks compared with the furthest position any replica was last seen at. */
    static String lossRange(PlannerInput in, ReplicaView candidate) {
        long furthest = 0;
        for (ReplicaView v : in.views().values()) {
            furthest = Math.max(furthest, v.last().lsn());
        }
        if (furthest <= candidate.flushed().lsn()) {
            return "no known entries beyond " + candidate.flushed() + "; entries written after the last successful probe are unknown";
        }
        return "lsn " + (candidate.flushed().lsn() + 1) + ".." + furthest
                + " may be lost (at least; entries written after the last successful probe are unknown)";
    }

    /**
     * Most advanced flushed position first (epoch, then lsn: the newer epoch decided); on a tie,
     * a replica that was streaming, then the smaller id so that the choice is deterministic.
     */
    public static final Comparator<ReplicaView> RANKING = Comparator
            .comparing(ReplicaView::flushed)
            .thenComparing(ReplicaView::streaming)
            .thenComparing(ReplicaView::id, Comparator.reverseOrder());

    private static List<ReplicaView> reachable(PlannerInput in) {
        List<ReplicaView> out = new ArrayList<>();
        for (Member m : in.members()) {
            ReplicaView v = in.views().get(m.id());
            if (v.reachable()) {
                out.add(v);
            }
        }
        return out;
    }

    private static long maxObservedEpoch(PlannerInput in, long floor) {
        long max = floor;
        for (ReplicaView v : in.views().values()) {
            max = Math.max(max, v.epoch());
        }
        return max;
    }
}
