package dev.tandem.controller.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import dev.tandem.proto.Role;
import dev.tandem.proto.WriteConcern;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The planner's rules as a table: each row is a situation and the one decision it must produce.
 * Notation for a replica: {@code r2 F 5:100} = r2 answers, FOLLOWER of the recorded leader in
 * epoch 5, flushed up to (5, 100).
 */
class FailoverPlannerTest {

    static final long NOW = 1_000_000;
    static final Policy DEFAULT = new Policy(3, WriteConcern.WRITE_CONCERN_ONE, false, 300, 2000);
    static final Policy UNSAFE = new Policy(3, WriteConcern.WRITE_CONCERN_ONE, true, 300, 2000);

    // ---- building situations -------------------------------------------------------------------

    static ReplicaView leader(String id, long epoch, long lsn) {
        return new ReplicaView(id, true, 0, Role.ROLE_LEADER, epoch, id, pos(epoch, lsn), pos(epoch, lsn), true, false, 0, 0);
    }

    static ReplicaView follower(String id, String leader, long epoch, long flushedEpoch, long lsn, boolean streaming, long stalenessMs) {
        return new ReplicaView(id, true, 0, Role.ROLE_FOLLOWER, epoch, leader, pos(flushedEpoch, lsn), pos(flushedEpoch, lsn),
                false, streaming, stalenessMs, 0);
    }

    /** A follower whose leader is gone: not streaming. */
    static ReplicaView orphan(String id, String leader, long epoch, long lsn) {
        return follower(id, leader, epoch, epoch, lsn, false, 5_000);
    }

    static ReplicaView unassigned(String id, long epoch, long flushedEpoch, long lsn) {
        return new ReplicaView(id, true, 0, Role.ROLE_UNASSIGNED, epoch, "", pos(flushedEpoch, lsn), pos(flushedEpoch, lsn),
                false, false, 0, 0);
    }

    static ReplicaView down(String id, int failures, ReplicaView before) {
        return ReplicaView.unreachable(id, failures, NOW - 250, before);
    }

    static LogPosition pos(long e, long l) {
        return new LogPosition(e, l);
    }

    static List<Member> members(int n) {
        List<Member> out = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            out.add(new Member("r" + i, "127.0.0.1:" + (7000 + i)));
        }
        return out;
    }

    static ClusterState state(long epoch, String leader, int n) {
        return new ClusterState(epoch, leader, members(n), null, List.of());
    }

    static PlannerInput input(ClusterState state, int n, Map<String, PlatformSignal> signals, ReplicaView... views) {
        Map<String, ReplicaView> byId = new LinkedHashMap<>();
        for (ReplicaView v : views) {
            byId.put(v.id(), v);
        }
        for (Member m : members(n)) {
            byId.putIfAbsent(m.id(), ReplicaView.unreachable(m.id(), 10, NOW - 5_000, null));
        }
        return new PlannerInput(NOW, state, members(n), byId, signals);
    }

    // ---- the table ------------------------------------------------------------------------------

    /** name, policy, input, expected decision class, expected target (Begin/Adopt) or reason (Blocked). */
    static Stream<Arguments> situations() {
        return Stream.of(
                row("bootstrap: a fresh majority promotes the smallest id to epoch 1", DEFAULT,
                        input(null, 3, Map.of(), unassigned("r1", 0, 0, 0), unassigned("r2", 0, 0, 0)),
                        Decision.Begin.class, "r1@1"),
                row("bootstrap: waits for a majority", DEFAULT,
                        input(null, 3, Map.of(), unassigned("r1", 0, 0, 0)),
                        Decision.Blocked.class, "bootstrap_waiting_for_majority"),
                row("bootstrap: promotes the most advanced to a fresh epoch above any seen", DEFAULT,
                        input(null, 3, Map.of(), unassigned("r1", 1, 1, 10), unassigned("r3", 1, 1, 12)),
                        Decision.Begin.class, "r3@2"),
                row("bootstrap: adopts a replica already leading the newest epoch", DEFAULT,
                        input(null, 3, Map.of(), leader("r2", 4, 50), follower("r1", "r2", 4, 4, 50, true, 0)),
                        Decision.Adopt.class, "r2@4"),
                row("healthy: nothing to do when everyone follows the leader", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), leader("r1", 5, 100), follower("r2", "r1", 5, 5, 100, true, 0),
                                follower("r3", "r1", 5, 5, 99, true, 0)),
                        Decision.Idle.class, "steady"),
                row("healthy: an unassigned replica (restarted) is told to follow", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), leader("r1", 5, 100), follower("r2", "r1", 5, 5, 100, true, 0),
                                unassigned("r3", 4, 4, 80)),
                        Decision.Reconcile.class, "r3"),
                row("healthy: a follower of an older epoch is told to follow", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), leader("r1", 5, 100), follower("r2", "r3", 4, 4, 90, false, 900),
                                follower("r3", "r1", 5, 5, 100, true, 0)),
                        Decision.Reconcile.class, "r2"),
                row("healthy: refuses to act when a replica is in a newer epoch than the state", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), leader("r1", 5, 100), follower("r2", "r3", 7, 7, 90, true, 0),
                                follower("r3", "r1", 5, 5, 100, true, 0)),
                        Decision.Blocked.class, "replica_epoch_ahead"),
                row("suspect: two missed probes of three are not a failure yet", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 2, leader("r1", 5, 100)),
                                orphan("r2", "r1", 5, 100), orphan("r3", "r1", 5, 98)),
                        Decision.Idle.class, null),
                row("failed: promotes the most advanced follower of a reachable majority", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)),
                                orphan("r2", "r1", 5, 98), orphan("r3", "r1", 5, 100)),
                        Decision.Begin.class, "r3@6"),
                row("failed: the epoch ranks before the lsn", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, null),
                                follower("r2", "r1", 5, 5, 90, false, 900), follower("r3", "r1", 5, 4, 120, false, 900)),
                        Decision.Begin.class, "r2@6"),
                row("failed: the new epoch is above every epoch any replica has seen", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, null),
                                orphan("r2", "r1", 5, 98), unassigned("r3", 8, 5, 97)),
                        Decision.Begin.class, "r2@9"),
                row("failed: waits when too few replicas answer to prove a candidate safe", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)),
                                orphan("r2", "r1", 5, 98)),
                        Decision.Blocked.class, "no_safe_candidate"),
                row("failed: an operator-allowed unsafe promotion goes ahead", UNSAFE,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)),
                                orphan("r2", "r1", 5, 98)),
                        Decision.Begin.class, "r2@6"),
                row("failed probes, but a follower still streams fresh data from the leader: wait", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)),
                                follower("r2", "r1", 5, 5, 100, true, 20), orphan("r3", "r1", 5, 100)),
                        Decision.Blocked.class, "leader_seen_by_followers"),
                row("failed probes and a fresh stream, but for longer than the bound: fail over anyway", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), ReplicaView.unreachable("r1", 30, NOW - 2_500, leader("r1", 5, 100)),
                                follower("r2", "r1", 5, 5, 100, true, 0), orphan("r3", "r1", 5, 100)),
                        Decision.Begin.class, "r2@6"),
                row("failed probes and a stale stream: the leader is gone", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)),
                                follower("r2", "r1", 5, 5, 100, true, 1_000), orphan("r3", "r1", 5, 99)),
                        Decision.Begin.class, "r2@6"),
                row("pod deleted: fails over at once, without waiting for probes", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of("r1", PlatformSignal.DELETED), leader("r1", 5, 100),
                                follower("r2", "r1", 5, 5, 100, true, 0), follower("r3", "r1", 5, 5, 100, true, 0)),
                        Decision.Begin.class, "r2@6"),
                row("pod not ready but the leader answers as leader: no failover", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of("r1", PlatformSignal.NOT_READY), leader("r1", 5, 100),
                                follower("r2", "r1", 5, 5, 100, true, 0), follower("r3", "r1", 5, 5, 100, true, 0)),
                        Decision.Idle.class, "steady"),
                row("pod not ready and one failed probe: fails over", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of("r1", PlatformSignal.NOT_READY), down("r1", 1, leader("r1", 5, 100)),
                                orphan("r2", "r1", 5, 100), orphan("r3", "r1", 5, 97)),
                        Decision.Begin.class, "r2@6"),
                row("restarted leader answers UNASSIGNED and is the most advanced: it is re-promoted in a new epoch", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of(), unassigned("r1", 5, 5, 104),
                                orphan("r2", "r1", 5, 100), orphan("r3", "r1", 5, 100)),
                        Decision.Begin.class, "r1@6"),
                row("five replicas, concern one: three answering cannot prove it (needs four)", DEFAULT,
                        input(state(5, "r1", 5), 5, Map.of(), down("r1", 3, null),
                                orphan("r2", "r1", 5, 100), orphan("r3", "r1", 5, 100), orphan("r4", "r1", 5, 100)),
                        Decision.Blocked.class, "no_safe_candidate"),
                row("five replicas, concern majority: three answering prove it", new Policy(3, WriteConcern.WRITE_CONCERN_MAJORITY, false, 300, 2000),
                        input(state(5, "r1", 5), 5, Map.of(), down("r1", 3, null),
                                orphan("r2", "r1", 5, 100), orphan("r3", "r1", 5, 101), orphan("r4", "r1", 5, 100)),
                        Decision.Begin.class, "r3@6"),
                row("nothing answers: wait", DEFAULT,
                        input(state(5, "r1", 3), 3, Map.of()),
                        Decision.Blocked.class, "no_reachable_replica"));
    }

    static Arguments row(String name, Policy policy, PlannerInput in, Class<? extends Decision> type, String expect) {
        return Arguments.of(name, policy, in, type, expect);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("situations")
    void decides(String name, Policy policy, PlannerInput in, Class<? extends Decision> type, String expect) {
        Decision d = new FailoverPlanner(policy).plan(in);
        assertInstanceOf(type, d, name + ": got " + d);
        if (d instanceof Decision.Begin b) {
            assertEquals(expect, b.transition().to() + "@" + b.transition().epoch(), name + ": " + d);
            assertEquals(Step.RECORDED, b.transition().step());
        } else if (d instanceof Decision.Adopt a) {
            assertEquals(expect, a.leader() + "@" + a.epoch(), name + ": " + d);
        } else if (d instanceof Decision.Blocked bl) {
            assertEquals(expect, bl.reason(), name + ": " + d);
        } else if (d instanceof Decision.Reconcile r) {
            assertEquals(expect, String.join(",", r.follow()), name + ": " + d);
        } else if (d instanceof Decision.Idle i && expect != null) {
            assertEquals(expect, i.why(), name + ": " + d);
        }
    }

    // ---- rules that need more than one column ---------------------------------------------------

    @Test
    void unsafePromotionReportsTheLsnRangeThatMayBeLost() {
        PlannerInput in = input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, leader("r1", 5, 100)), orphan("r2", "r1", 5, 98));
        Decision.Begin b = (Decision.Begin) new FailoverPlanner(UNSAFE).plan(in);
        assertNotNull(b.transition().mayLose());
        assertTrue(b.transition().mayLose().startsWith("lsn 99..100 may be lost"), b.transition().mayLose());
    }

    @Test
    void safePromotionReportsNothingLost() {
        PlannerInput in = input(state(5, "r1", 3), 3, Map.of(), down("r1", 3, null), orphan("r2", "r1", 5, 98), orphan("r3", "r1", 5, 98));
        Decision.Begin b = (Decision.Begin) new FailoverPlanner(DEFAULT).plan(in);
        assertNull(b.transition().mayLose());
        assertEquals("probe_failed", b.transition().reason());
        assertEquals("r1", b.transition().from());
        assertEquals(NOW - 250, b.transition().detectedAtMs(), "detection time is the first failed probe");
    }

    @Test
    void aTransitionInProgressIsResumedWhileItsTargetAnswers() {
        Transition t = new Transition("failover-e6-x", TransitionKind.FAILOVER, "probe_failed", 6, "r1", "r2", Step.FENCED, NOW, NOW, 0, null);
        ClusterState s = new ClusterState(6, "r2", members(3), t, List.of());
        Decision d = new FailoverPlanner(DEFAULT).plan(input(s, 3, Map.of(), orphan("r2", "r1", 5, 98), orphan("r3", "r1", 5, 98)));
        assertEquals(new Decision.Resume(t), d);
    }

    @Test
    void aTransitionWhoseTargetFailedIsAbortedAndItsEpochIsNotReused() {
        Transition t = new Transition("failover-e6-x", TransitionKind.FAILOVER, "probe_failed", 6, "r1", "r2", Step.RECORDED, NOW, NOW, 0, null);
        ClusterState s = new ClusterState(6, "r2", members(3), t, List.of());
        FailoverPlanner p = new FailoverPlanner(DEFAULT);
        Decision d = p.plan(input(s, 3, Map.of(), down("r2", 3, null), orphan("r3", "r1", 5, 98), unassigned("r1", 5, 5, 98)));
        assertInstanceOf(Decision.Abort.class, d);
        // After the abort the state still records epoch 6 (burned): the next failover takes 7.
        ClusterState after = s.abort(dev.tandem.controller.model.HistoryEntry.of(t, NOW, "aborted"), 10);
        Decision next = p.plan(input(after, 3, Map.of(), down("r2", 4, null), orphan("r3", "r1", 5, 98), unassigned("r1", 5, 5, 98)));
        assertInstanceOf(Decision.Begin.class, next, next.toString());
        assertEquals(7, ((Decision.Begin) next).transition().epoch());
    }

    @ParameterizedTest(name = "concern {0} on {1} replicas: {2} must answer")
    @CsvSource({"one,3,2", "majority,3,2", "all,3,1", "leader,3,3", "one,5,4", "majority,5,3", "all,5,1", "one,2,1", "one,1,1"})
    void safeQuorumIsWhatIntersectsEveryAcknowledgedCopy(String concern, int members, int need) {
        Policy p = new Policy(3, dev.tandem.common.WriteConcerns.parse(concern), false, 300, 2000);
        assertEquals(need, p.safeQuorum(members));
    }
}
