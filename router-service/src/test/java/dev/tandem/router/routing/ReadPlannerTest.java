package dev.tandem.router.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Where reads go, as claims about the routing rules of DESIGN.md "Reads and sessions". */
class ReadPlannerTest {

    private static final long WAIT_MS = 200;
    private static final EpochHistory E1 = EpochHistory.of(List.of(new EpochHistory.Entry(1, 1, "r1")));

    static ReplicaView replica(String id, Role role, long epoch, EpochHistory h, long applied, boolean healthy, boolean streaming, long stalenessMs) {
        ReplicaInfo info = ReplicaInfo.newBuilder().setReplicaId(id).setRole(role).setEpoch(epoch).setAppliedLsn(applied)
                .addAllHistory(h.toProto()).setAcceptingWrites(role == Role.ROLE_LEADER).setStreaming(streaming)
                .setStalenessMs(stalenessMs).build();
        return new ReplicaView(id, "127.0.0.1:1", info, h, healthy, 0, "");
    }

    static ReplicaView leader(long applied) {
        return replica("r1", Role.ROLE_LEADER, 1, E1, applied, true, false, 0);
    }

    static ReplicaView follower(String id, long applied) {
        return replica(id, Role.ROLE_FOLLOWER, 1, E1, applied, true, true, 0);
    }

    static SessionToken token(String session, long epoch, long lsn) {
        return new SessionToken(session, new LogPosition(epoch, lsn));
    }

    /** A session id whose home (rendezvous over r2, r3) is {@code home}. */
    static String sessionHomedAt(String home) {
        for (int i = 0; ; i++) {
            String s = String.format("%016x", i);
            if (Rendezvous.pick(s, List.of("r2", "r3"), x -> x).orElseThrow().equals(home)) {
                return s;
            }
        }
    }

    @Test
    void sessionReadGoesToItsHomeFollowerWhenItHasTheToken() {
        String s = sessionHomedAt("r3");
        Topology t = new Topology(List.of(leader(10), follower("r2", 10), follower("r3", 10)));
        ReadPlan p = ReadPlanner.plan(t, Consistency.SESSION, token(s, 1, 10), WAIT_MS);
        assertEquals(Optional.of("r3"), p.follower());
    }

    @Test
    void sessionReadMovesToACaughtUpFollowerWhenHomeLags() {
        String s = sessionHomedAt("r3");
        Topology t = new Topology(List.of(leader(10), follower("r2", 10), follower("r3", 4)));
        ReadPlan p = ReadPlanner.plan(t, Consistency.SESSION, token(s, 1, 9), WAIT_MS);
        assertEquals(Optional.of("r2"), p.follower());
        assertEquals(WAIT_MS, p.waitMs());
    }

    @Test
    void sessionReadAsksHomeToWaitWhenNoFollowerHasTheTokenYet() {
        String s = sessionHomedAt("r2");
        Topology t = new Topology(List.of(leader(10), follower("r2", 8), follower("r3", 7)));
        ReadPlan p = ReadPlanner.plan(t, Consistency.SESSION, token(s, 1, 10), WAIT_MS);
        assertEquals(Optional.of("r2"), p.follower());
        assertEquals(WAIT_MS, p.waitMs());
    }

    @Test
    void sessionReadGoesToTheLeaderWhenWaitingIsDisabledAndNoFollowerHasTheToken() {
        Topology t = new Topology(List.of(leader(10), follower("r2", 8), follower("r3", 7)));
        ReadPlan p = ReadPlanner.plan(t, Consistency.SESSION, token("0123456789abcdef", 1, 10), 0);
        assertTrue(p.follower().isEmpty());
        assertEquals(ReadPlan.FallbackReason.NOT_CAUGHT_UP, p.noFollowerReason());
    }

    @Test
    void aPositionTheFollowerHistoryCallsLostIsLeftToTheLeader() {
        // r2 and r3 are in epoch 2, which began at lsn 6: the session's write 1.7 was rolled back.
        EpochHistory e2 = E1.withEpoch(2, 6, "r2");
        ReplicaView newLeader = replica("r2", Role.ROLE_LEADER, 2, e2, 9, true, false, 0);
        ReplicaView f = replica("r3", Role.ROLE_FOLLOWER, 2, e2, 9, true, true, 0);
        ReadPlan p = ReadPlanner.plan(new Topology(List.of(newLeader, f)), Consistency.SESSION, token("0123456789abcdef", 1, 7), WAIT_MS);
        assertTrue(p.follower().isEmpty(), "a follower that would answer SESSION_WRITE_LOST is not asked: " + p);
    }

    @Test
    void noServingFollowerMeansTheLeaderWithReasonNoFollower() {
        ReplicaView down = replica("r2", Role.ROLE_FOLLOWER, 1, E1, 10, false, true, 0);
        ReplicaView notStreaming = replica("r3", Role.ROLE_FOLLOWER, 1, E1, 10, true, false, 0);
        ReadPlan p = ReadPlanner.plan(new Topology(List.of(leader(10), down, notStreaming)), Consistency.SESSION, token("0123456789abcdef", 1, 1), WAIT_MS);
        assertTrue(p.follower().isEmpty());
        assertEquals(ReadPlan.FallbackReason.NO_FOLLOWER, p.noFollowerReason());
    }

    @Test
    void followersOfAnOlderEpochThanTheLeaderAreNotServing() {
        EpochHistory e2 = E1.withEpoch(2, 11, "r1");
        ReplicaView l2 = replica("r1", Role.ROLE_LEADER, 2, e2, 12, true, false, 0);
        ReplicaView stale = replica("r2", Role.ROLE_FOLLOWER, 1, E1, 10, true, true, 0);
        ReadPlan p = ReadPlanner.plan(new Topology(List.of(l2, stale)), Consistency.EVENTUAL, token("0123456789abcdef", 0, 0), WAIT_MS);
        assertTrue(p.follower().isEmpty());
    }

    @Test
    void strongReadsAlwaysGoToTheLeader() {
        Topology t = new Topology(List.of(leader(10), follower("r2", 10), follower("r3", 10)));
        ReadPlan p = ReadPlanner.plan(t, Consistency.STRONG, token("0123456789abcdef", 1, 1), WAIT_MS);
        assertTrue(p.follower().isEmpty());
        assertEquals(ReadPlan.FallbackReason.STRONG, p.noFollowerReason());
    }

    @Test
    void boundedReadsUseOnlyFollowersWithinTheBound() {
        ReplicaView fresh = replica("r2", Role.ROLE_FOLLOWER, 1, E1, 10, true, true, 40);
        ReplicaView stale = replica("r3", Role.ROLE_FOLLOWER, 1, E1, 5, true, true, 900);
        Topology t = new Topology(List.of(leader(10), fresh, stale));
        for (int i = 0; i < 50; i++) {
            ReadPlan p = ReadPlanner.plan(t, new Consistency(Consistency.Level.BOUNDED, 100), token(String.format("%016x", i), 0, 0), WAIT_MS);
            assertEquals(Optional.of("r2"), p.follower());
        }
        ReadPlan tight = ReadPlanner.plan(t, new Consistency(Consistency.Level.BOUNDED, 10), token("0123456789abcdef", 0, 0), WAIT_MS);
        assertTrue(tight.follower().isEmpty());
    }

    @Test
    void eventualReadsPreferFollowersAndSpreadSessionsOverThem() {
        Topology t = new Topology(List.of(leader(10), follower("r2", 1), follower("r3", 2)));
        List<String> chosen = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            chosen.add(ReadPlanner.plan(t, Consistency.EVENTUAL, token(String.format("%016x", i * 7919L), 1, 10), WAIT_MS).follower().orElseThrow());
        }
        assertTrue(chosen.contains("r2") && chosen.contains("r3"), chosen.toString());
        assertTrue(!chosen.contains("r1"));
    }

    @Test
    void twoRoutersWithTheSameTopologyPickTheSameFollowerForASession() {
        Topology a = new Topology(List.of(leader(10), follower("r2", 10), follower("r3", 10)));
        Topology b = new Topology(List.of(follower("r3", 10), leader(10), follower("r2", 10)));
        for (int i = 0; i < 100; i++) {
            SessionToken tok = token(String.format("%016x", i), 1, 10);
            assertEquals(ReadPlanner.plan(a, Consistency.SESSION, tok, WAIT_MS), ReadPlanner.plan(b, Consistency.SESSION, tok, WAIT_MS));
        }
    }

    @Test
    void aHomeThatLagsDoesNotChangeOtherSessionsHomes() {
        String s2 = sessionHomedAt("r2");
        Topology t = new Topology(List.of(leader(10), follower("r2", 10), follower("r3", 3)));
        assertEquals(Optional.of("r2"), ReadPlanner.plan(t, Consistency.SESSION, token(s2, 1, 10), WAIT_MS).follower());
        String s3 = sessionHomedAt("r3");
        assertNotEquals(Optional.of("r3"), ReadPlanner.plan(t, Consistency.SESSION, token(s3, 1, 10), WAIT_MS).follower());
    }
}
