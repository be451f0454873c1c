package dev.tandem.replica.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Claims about the replication core, one per test, in the style of etcd's raft_paper_test. */
class ReplicaCoreTest {

    private static final long LEASE_MS = 400;
    private static final long HEARTBEAT_MS = 50;
    private static final long IN_FLIGHT_BYTES = 1_000;
    private static final long RETAINED_ENTRIES = 100;
    private static final List<String> THREE = List.of("r1", "r2", "r3");
    private static final long FAR_DEADLINE_MS = 1_000_000;

    private static CoreConfig config(WriteConcern minConcern) {
        return new CoreConfig(LEASE_MS, HEARTBEAT_MS, minConcern, IN_FLIGHT_BYTES, RETAINED_ENTRIES);
    }

    private static ReplicaCore<String> fresh(String id, WriteConcern minConcern) {
        return new ReplicaCore<>(id, config(minConcern), DurableMeta.initial(), LogPosition.ZERO, 1);
    }

    /** r1 leads epoch 1 over r1..r3 with no follower heard yet. */
    private static ReplicaCore<String> leader(WriteConcern minConcern) {
        ReplicaCore<String> core = fresh("r1", minConcern);
        assertTrue(core.promote(0, 1, THREE).ok());
        return core;
    }

    /** A follower with an empty log opens a stream to {@code leader}. */
    private static SubscribeDecision subscribeEmpty(ReplicaCore<String> leader, long nowMs, String follower) {
        return leader.onSubscribe(nowMs, follower, leader.epoch(), LogPosition.ZERO, EpochHistory.empty());
    }

    private static LogPosition write(ReplicaCore<String> leader, long nowMs, WriteConcern concern, long deadlineMs) {
        assertEquals(ErrorCode.OK, leader.admitWrite(nowMs));
        LogPosition position = leader.assignNext(nowMs);
        leader.awaitConcern(position, concern, deadlineMs, "w" + position.lsn());
        return position;
    }

    /** Ships everything in the follower's window, 10 bytes per entry. */
    private static void shipAll(ReplicaCore<String> leader, long nowMs, String follower) {
        ShipWindow window = leader.shipWindow(follower);
        if (!window.isEmpty()) {
            leader.onShipped(nowMs, follower, window.toLsn(), 10 * (window.toLsn() - window.fromLsn() + 1));
        }
    }

    private static List<String> okWaiters(List<Completion<String>> completions) {
        List<String> ok = new ArrayList<>();
        for (Completion<String> c : completions) {
            if (c.code() == ErrorCode.OK) {
                ok.add(c.waiter());
            }
        }
        return ok;
    }

    // ---- roles, epochs, fencing ----------------------------------------------------------------

    @Test
    void promotionRecordsTheNewEpochStartingAfterTheLastEntry() {
        ReplicaCore<String> core = new ReplicaCore<>("r2", config(WriteConcern.WRITE_CONCERN_ONE),
                new DurableMeta(3, EpochHistory.of(List.of(new EpochHistory.Entry(3, 1, "r1"))), Role.FOLLOWER, "r1", THREE),
                new LogPosition(3, 7), 1);

        CommandResult result = core.promote(0, 4, THREE);

        assertTrue(result.ok());
        assertEquals(Role.LEADER, result.metaToPersist().role());
        assertEquals(new EpochHistory.Entry(4, 8, "r2"), result.metaToPersist().history().entries().get(1));
        subscribeEmpty(core, 0, "r1");
        assertEquals(new LogPosition(4, 8), core.assignNext(0));
    }

    @Test
    void promotionToAnOlderEpochIsFencedAndChangesNothing() {
        ReplicaCore<String> core = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        core.follow(0, 5, "r1", THREE);

        CommandResult result = core.promote(0, 4, THREE);

        assertEquals(ErrorCode.FENCED, result.code());
        assertNull(result.metaToPersist());
        assertEquals(Role.FOLLOWER, core.role());
    }

    @Test
    void promotionThatReusesAKnownEpochIsFenced() {
        ReplicaCore<String> core = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        core.follow(0, 5, "r1", THREE);

        CommandResult result = core.promote(0, 5, THREE);

        assertEquals(ErrorCode.FENCED, result.code());
        assertTrue(result.reason().contains("role=FOLLOWER"), result.reason());
        assertNull(result.metaToPersist());
        assertEquals(Role.FOLLOWER, core.role());
    }

    @Test
    void promotionIsIdempotentForTheCurrentLeader() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);

        CommandResult again = core.promote(10, 1, THREE);

        assertTrue(again.ok());
        assertNull(again.metaToPersist());
        assertEquals(1, core.meta().history().entries().size());
    }

    @Test
    void leaderToldToFollowInItsOwnEpochRefusesAndKeepsLeading() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);

        CommandResult result = core.follow(0, 1, "r2", THREE);

        assertEquals(ErrorCode.INVALID_ARGUMENT, result.code());
        assertTrue(result.reason().contains("role=LEADER"), result.reason());
        assertEquals(Role.LEADER, core.role());
    }

    @Test
    void checkEpochFencesLowerAndFlagsHigherEpochs() {
        ReplicaCore<String> core = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        core.follow(0, 5, "r1", THREE);

        assertEquals(ErrorCode.FENCED, core.checkEpoch(4));
        assertEquals(ErrorCode.OK, core.checkEpoch(5));
        assertEquals(ErrorCode.UNKNOWN_EPOCH, core.checkEpoch(6));
    }

    @Test
    void restartedLeaderComesBackUnassigned() {
        ReplicaCore<String> before = leader(WriteConcern.WRITE_CONCERN_ONE);

        ReplicaCore<String> after = new ReplicaCore<>("r1", config(WriteConcern.WRITE_CONCERN_ONE), before.meta(),
                LogPosition.ZERO, 1);

        assertEquals(Role.UNASSIGNED, after.role());
        assertEquals(1, after.epoch());
        assertEquals(ErrorCode.NOT_LEADER, after.admitWrite(0));
    }

    @Test
    void restartedFollowerFollowsTheSameLeaderInTheSameEpoch() {
        ReplicaCore<String> before = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        DurableMeta persisted = before.follow(0, 3, "r1", THREE).metaToPersist();

        ReplicaCore<String> after = new ReplicaCore<>("r2", config(WriteConcern.WRITE_CONCERN_ONE), persisted,
                LogPosition.ZERO, 1);

        assertEquals(Role.FOLLOWER, after.role());
        assertEquals("r1", after.meta().leaderId());
        assertEquals(3, after.epoch());
    }

    // ---- lease ---------------------------------------------------------------------------------

    @Test
    void newLeaderAdmitsWritesOnlyOnceAFollowerHasSubscribed() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        assertEquals(ErrorCode.LEASE_EXPIRED, core.admitWrite(0));

        subscribeEmpty(core, 10, "r2");

        assertEquals(ErrorCode.OK, core.admitWrite(10));
    }

    @Test
    void leaderStopsAdmittingWritesWhenLeaseExpires() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 100, "r2");
        core.onAck(200, "r2", 1, 0, 0);

        assertEquals(ErrorCode.OK, core.admitWrite(200 + LEASE_MS - 1));
        assertEquals(ErrorCode.LEASE_EXPIRED, core.admitWrite(200 + LEASE_MS));
        assertFalse(core.status(200 + LEASE_MS).acceptingWrites());
    }

    @Test
    void majorityLeaseNeedsAsManyFollowersAsTheMinimumConcern() {
        ReplicaCore<String> core = new ReplicaCore<>("r1", config(WriteConcern.WRITE_CONCERN_MAJORITY),
                DurableMeta.initial(), LogPosition.ZERO, 1);
        List<String> five = List.of("r1", "r2", "r3", "r4", "r5");
        core.promote(0, 1, five);

        subscribeEmpty(core, 0, "r2");
        assertEquals(ErrorCode.LEASE_EXPIRED, core.admitWrite(0));
        subscribeEmpty(core, 0, "r3");
        assertEquals(ErrorCode.OK, core.admitWrite(0));
    }

    @Test
    void followersOutsideTheMembersDoNotHoldTheLease() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);

        subscribeEmpty(core, 0, "stranger");

        assertEquals(ErrorCode.LEASE_EXPIRED, core.admitWrite(0));
    }

    @Test
    void leaderConcernAsClusterMinimumNeedsNoLease() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_LEADER);

        assertEquals(ErrorCode.OK, core.admitWrite(0));
    }

    @Test
    void steppingDownStopsWritesButKeepsShipping() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);

        assertTrue(core.stepDown(1, 0).ok());

        assertEquals(ErrorCode.NOT_LEADER, core.admitWrite(1));
        assertTrue(core.status(1).steppingDown());
        assertEquals(new ShipWindow(1, 1, IN_FLIGHT_BYTES), core.shipWindow("r2"));
    }

    @Test
    void stepDownOfANonLeaderOrAnOlderEpochIsRefused() {
        ReplicaCore<String> follower = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        follower.follow(0, 2, "r1", THREE);
        ReplicaCore<String> leader = leader(WriteConcern.WRITE_CONCERN_ONE);

        assertEquals(ErrorCode.NOT_LEADER, follower.stepDown(0, 0).code());
        assertEquals(ErrorCode.UNKNOWN_EPOCH, leader.stepDown(0, 2).code());
        follower.follow(0, 3, "r3", THREE);
        assertEquals(ErrorCode.FENCED, follower.stepDown(0, 2).code());
    }

    // ---- write concerns ------------------------------------------------------------------------

    @Test
    void writeWithConcernOneCompletesOnlyAfterAFollowerFlushes() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        LogPosition position = write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        shipAll(core, 1, "r2");

        assertTrue(core.onLocalFlush(2, position.lsn()).isEmpty(), "the leader alone is not enough for 'one'");
        List<Completion<String>> done = core.onAck(3, "r2", 1, position.lsn(), position.lsn());

        assertEquals(List.of("w1"), okWaiters(done));
        assertEquals(position, done.get(0).position());
    }

    @Test
    void leaderCountsItselfOnlyAfterItsOwnFlush() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        subscribeEmpty(core, 0, "r3");
        LogPosition position = write(core, 0, WriteConcern.WRITE_CONCERN_MAJORITY, FAR_DEADLINE_MS);
        shipAll(core, 1, "r2");
        shipAll(core, 1, "r3");

        assertTrue(core.onAck(2, "r2", 1, 1, 1).isEmpty());
        assertTrue(core.onAck(2, "r3", 1, 1, 1).isEmpty(),
                "two followers make a majority of copies, but the leader must hold the write it acknowledges");

        assertEquals(List.of("w1"), okWaiters(core.onLocalFlush(3, position.lsn())));
    }

    @Test
    void leaderConcernCompletesOnTheLeadersFlushAlone() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);

        assertEquals(List.of("w1"), okWaiters(core.onLocalFlush(1, 1)));
    }

    @Test
    void concernAllWaitsForEveryMember() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        subscribeEmpty(core, 0, "r3");
        write(core, 0, WriteConcern.WRITE_CONCERN_ALL, FAR_DEADLINE_MS);
        shipAll(core, 0, "r2");
        shipAll(core, 0, "r3");
        core.onLocalFlush(1, 1);

        assertTrue(core.onAck(2, "r2", 1, 1, 1).isEmpty());
        assertEquals(List.of("w1"), okWaiters(core.onAck(3, "r3", 1, 1, 1)));
    }

    @Test
    void writesCompleteInLsnOrderAsAcksAdvance() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        for (int i = 0; i < 3; i++) {
            write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        }
        shipAll(core, 0, "r2");
        core.onLocalFlush(1, 3);

        assertEquals(List.of("w1", "w2"), okWaiters(core.onAck(2, "r2", 1, 2, 2)));
        assertEquals(List.of("w3"), okWaiters(core.onAck(3, "r2", 1, 3, 3)));
    }

    @Test
    void unconfirmedWriteCompletesNotConfirmedAtItsDeadline() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        LogPosition position = write(core, 0, WriteConcern.WRITE_CONCERN_ONE, 500);
        core.onLocalFlush(1, 1);

        assertTrue(core.onTick(499).isEmpty());
        List<Completion<String>> expired = core.onTick(500);

        assertEquals(1, expired.size());
        assertEquals(ErrorCode.NOT_CONFIRMED, expired.get(0).code());
        assertEquals(position, expired.get(0).position());
        assertFalse(expired.get(0).reason().isEmpty());
        shipAll(core, 501, "r2");
        assertTrue(core.onAck(501, "r2", 1, 1, 1).isEmpty(), "a write completes once");
    }

    @Test
    void deposedLeaderPendingWritesCompleteNotConfirmed() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        write(core, 0, WriteConcern.WRITE_CONCERN_MAJORITY, FAR_DEADLINE_MS);
        core.onLocalFlush(1, 2);

        CommandResult result = core.follow(2, 2, "r2", THREE);
        List<Completion<String>> drained = core.drainCompletions();

        assertTrue(result.ok());
        assertEquals(Role.FOLLOWER, result.metaToPersist().role());
        assertEquals(List.of("w1", "w2"), drained.stream().map(Completion::waiter).toList());
        assertTrue(drained.stream().allMatch(c -> c.code() == ErrorCode.NOT_CONFIRMED));
        assertTrue(core.drainCompletions().isEmpty());
    }

    @Test
    void retriedWriteWaitsOnItsOriginalPositionEvenFromAnEarlierEpoch() {
        // r1 holds (1,1..2) from epoch 1 and now leads epoch 2; a client retries the write at (1,2).
        EpochHistory oldHistory = EpochHistory.of(List.of(new EpochHistory.Entry(1, 1, "r2")));
        ReplicaCore<String> core = new ReplicaCore<>("r1", config(WriteConcern.WRITE_CONCERN_ONE),
                new DurableMeta(1, oldHistory, Role.FOLLOWER, "r2", THREE), new LogPosition(1, 2), 1);
        core.promote(0, 2, THREE);
        core.onSubscribe(0, "r3", 2, new LogPosition(1, 2), oldHistory);

        core.awaitConcern(new LogPosition(1, 2), WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS, "retry");
        List<Completion<String>> done = core.onAck(1, "r3", 2, 2, 2);

        assertEquals(List.of("retry"), okWaiters(done));
    }

    @Test
    void waitingOnAPositionThatIsNotInTheLogCompletesNotConfirmed() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_LEADER);
        write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);

        core.awaitConcern(new LogPosition(7, 1), WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS, "lost");
        List<Completion<String>> done = core.onTick(1);

        assertEquals(1, done.size());
        assertEquals("lost", done.get(0).waiter());
        assertEquals(ErrorCode.NOT_CONFIRMED, done.get(0).code());
    }

    @Test
    void acksFromAnotherEpochAreIgnored() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        shipAll(core, 0, "r2");
        core.onLocalFlush(1, 1);

        assertTrue(core.onAck(2, "r2", 0, 1, 1).isEmpty());
        assertTrue(core.onAck(2, "r2", 2, 1, 1).isEmpty());
        assertEquals(0, core.status(2).followers().get(0).flushedLsn());
    }

    @Test
    void acksFromOutsideTheMembersDoNotCount() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        subscribeEmpty(core, 0, "stranger");
        write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        shipAll(core, 0, "stranger");
        core.onLocalFlush(1, 1);

        assertTrue(core.onAck(2, "stranger", 1, 1, 1).isEmpty());
    }

    @Test
    void anAckCountsOnlyWhatWasShippedOnThatStream() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        core.onLocalFlush(1, 1);

        assertTrue(core.onAck(2, "r2", 1, 1, 1).isEmpty(), "nothing was shipped, so r2 cannot hold lsn 1");
    }

    // ---- subscribe and divergence ---------------------------------------------------------------

    @Test
    void subscribeOfDeposedLeaderIsTruncatedToDivergencePoint() {
        // r2 led epoch 1 and wrote lsns 1..5; only 1..3 reached r1, which now leads epoch 2.
        EpochHistory oldHistory = EpochHistory.of(List.of(new EpochHistory.Entry(1, 1, "r2")));
        ReplicaCore<String> core = new ReplicaCore<>("r1", config(WriteConcern.WRITE_CONCERN_ONE),
                new DurableMeta(1, oldHistory, Role.FOLLOWER, "r2", THREE), new LogPosition(1, 3), 1);
        core.promote(0, 2, THREE);

        SubscribeDecision decision = core.onSubscribe(1, "r2", 2, new LogPosition(1, 5), oldHistory);

        assertEquals(new SubscribeDecision.Truncate(3), decision);
        assertEquals(new ShipWindow(4, 3, IN_FLIGHT_BYTES), core.shipWindow("r2"));
    }

    @Test
    void acksOfDivergentEntriesSentBeforeTheTruncationDoNotCount() {
        EpochHistory oldHistory = EpochHistory.of(List.of(new EpochHistory.Entry(1, 1, "r2")));
        ReplicaCore<String> core = new ReplicaCore<>("r1", config(WriteConcern.WRITE_CONCERN_ONE),
                new DurableMeta(1, oldHistory, Role.FOLLOWER, "r2", THREE), new LogPosition(1, 3), 1);
        core.promote(0, 2, THREE);
        core.onSubscribe(1, "r2", 2, new LogPosition(1, 5), oldHistory);
        write(core, 1, WriteConcern.WRITE_CONCERN_ONE, FAR_DEADLINE_MS);
        shipAll(core, 1, "r2");
        core.onLocalFlush(2, 4);

        // r2 flushed its own (1,4) before it read our Truncate: same lsn, another entry.
        assertTrue(core.onAck(3, "r2", 2, 5, 5).isEmpty());
        assertEquals(3, core.status(3).followers().get(0).flushedLsn());
    }

    @Test
    void followerWithAPrefixOfOurLogStreamsFromItsEnd() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_LEADER);
        for (int i = 0; i < 5; i++) {
            write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        }

        SubscribeDecision decision = core.onSubscribe(1, "r2", 1, new LogPosition(1, 2), core.meta().history());

        assertEquals(new SubscribeDecision.Stream(3), decision);
    }

    @Test
    void followerTooFarBehindNeedsSnapshot() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_LEADER);
        for (int i = 0; i < 10; i++) {
            write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        }
        core.onLocalFlush(0, 10);
        core.onLogCompacted(8);

        SubscribeDecision decision = core.onSubscribe(1, "r2", 1, new LogPosition(1, 5), core.meta().history());

        assertEquals(new SubscribeDecision.Snapshot(8), decision);
        assertTrue(core.shipWindow("r2").isEmpty(), "nothing below the log start can be shipped");
    }

    @Test
    void subscribeToANonLeaderOrFromANewerEpochIsRejected() {
        ReplicaCore<String> follower = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        follower.follow(0, 1, "r1", THREE);
        ReplicaCore<String> leader = leader(WriteConcern.WRITE_CONCERN_ONE);

        SubscribeDecision notLeader = follower.onSubscribe(0, "r3", 1, LogPosition.ZERO, EpochHistory.empty());
        SubscribeDecision newer = leader.onSubscribe(0, "r3", 2, LogPosition.ZERO, EpochHistory.empty());

        assertEquals(ErrorCode.NOT_LEADER, assertInstanceOf(SubscribeDecision.Reject.class, notLeader).code());
        assertEquals(ErrorCode.UNKNOWN_EPOCH, assertInstanceOf(SubscribeDecision.Reject.class, newer).code());
    }

    // ---- shipping ------------------------------------------------------------------------------

    @Test
    void inFlightBytesAreBounded() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        for (int i = 0; i < 4; i++) {
            write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        }

        core.onShipped(1, "r2", 2, 600);
        assertEquals(new ShipWindow(3, 4, IN_FLIGHT_BYTES - 600), core.shipWindow("r2"));
        core.onShipped(1, "r2", 4, 400);
        assertTrue(core.shipWindow("r2").isEmpty());

        write(core, 2, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        assertTrue(core.shipWindow("r2").isEmpty(), "budget spent: nothing more until an ack");
        core.onAck(3, "r2", 1, 2, 2);
        assertEquals(new ShipWindow(5, 5, 600), core.shipWindow("r2"));
    }

    @Test
    void disconnectedFollowerGetsNothingUntilItSubscribesAgain() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        core.onShipped(0, "r2", 1, 900);

        core.onFollowerDisconnected("r2");

        assertTrue(core.shipWindow("r2").isEmpty());
        assertFalse(core.heartbeatDue(10_000, "r2"));
        subscribeEmpty(core, 1, "r2");
        assertEquals(new ShipWindow(1, 1, IN_FLIGHT_BYTES), core.shipWindow("r2"), "unacked bytes are forgotten");
    }

    @Test
    void heartbeatIsDueOnlyAfterAnIdleInterval() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 100, "r2");

        assertFalse(core.heartbeatDue(100 + HEARTBEAT_MS - 1, "r2"));
        assertTrue(core.heartbeatDue(100 + HEARTBEAT_MS, "r2"));
        core.onHeartbeatSent(100 + HEARTBEAT_MS, "r2");
        assertFalse(core.heartbeatDue(100 + HEARTBEAT_MS + 1, "r2"));
        write(core, 200, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        shipAll(core, 200, "r2");
        assertFalse(core.heartbeatDue(200 + HEARTBEAT_MS - 1, "r2"), "shipping entries counts as contact");
    }

    @Test
    void logIsRetainedForTheSlowestFollowerWithinTheBound() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        subscribeEmpty(core, 0, "r3");
        for (int i = 0; i < 150; i++) {
            write(core, 0, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        }
        core.onLocalFlush(0, 150);
        shipAll(core, 0, "r2");
        shipAll(core, 0, "r3");
        core.onAck(1, "r2", 1, 140, 140);
        core.onAck(1, "r3", 1, 30, 30);

        assertEquals(150 - RETAINED_ENTRIES + 1, core.retainFromLsn(), "r3 is further behind than the bound");
        core.onAck(2, "r3", 1, 120, 120);
        assertEquals(121, core.retainFromLsn());
    }

    @Test
    void followerKeepsTheSameBoundedWindowButNothingItHasNotFlushed() {
        ReplicaCore<String> core = follower(1);
        assertEquals(1, core.retainFromLsn());
        core.onAppend(0, 1, LogPosition.ZERO, new LogPosition(1, 150), historyOf(1, 1));
        assertEquals(1, core.retainFromLsn(), "nothing flushed yet: nothing may go");
        core.onLocalFlush(1, 120);
        assertEquals(150 - RETAINED_ENTRIES + 1, core.retainFromLsn());
        core.onLogCompacted(150 - RETAINED_ENTRIES + 1);
        core.onLocalFlush(2, 150);
        assertEquals(150 - RETAINED_ENTRIES + 1, core.retainFromLsn(), "the window bound, not the flushed position, limits it");
    }

    @Test
    void leaderReportsFollowerLagInEntriesAndMilliseconds() {
        ReplicaCore<String> core = leader(WriteConcern.WRITE_CONCERN_ONE);
        subscribeEmpty(core, 0, "r2");
        write(core, 100, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        write(core, 200, WriteConcern.WRITE_CONCERN_LEADER, FAR_DEADLINE_MS);
        shipAll(core, 200, "r2");
        core.onAck(250, "r2", 1, 1, 1);

        CoreStatus.FollowerProgress r2 = core.status(300).followers().get(0);

        assertEquals("r2", r2.followerId());
        assertEquals(1, r2.lagEntries());
        assertEquals(100, r2.lagMs(), "lsn 2 was assigned at 200");
        assertEquals(50, r2.lastHeardMsAgo());
        assertTrue(r2.streaming());
    }

    // ---- follower ------------------------------------------------------------------------------

    private static ReplicaCore<String> follower(long epoch) {
        ReplicaCore<String> core = fresh("r2", WriteConcern.WRITE_CONCERN_ONE);
        core.follow(0, epoch, "r1", THREE);
        core.onStreamState(0, true);
        return core;
    }

    private static EpochHistory historyOf(long... epochAndStart) {
        List<EpochHistory.Entry> entries = new ArrayList<>();
        for (int i = 0; i < epochAndStart.length; i += 2) {
            entries.add(new EpochHistory.Entry(epochAndStart[i], epochAndStart[i + 1], "r1"));
        }
        return EpochHistory.of(entries);
    }

    @Test
    void lowerEpochAppendIsFenced() {
        ReplicaCore<String> core = follower(3);

        AppendDecision decision = core.onAppend(0, 2, LogPosition.ZERO, new LogPosition(2, 1), historyOf(2, 1));

        assertEquals(ErrorCode.FENCED, assertInstanceOf(AppendDecision.Reject.class, decision).code());
        assertEquals(LogPosition.ZERO, core.last());
    }

    @Test
    void appendAdoptsTheLeadersEpochAndHistory() {
        ReplicaCore<String> core = follower(1);

        AppendDecision decision = core.onAppend(0, 2, LogPosition.ZERO, new LogPosition(2, 3), historyOf(1, 1, 2, 1));

        AppendDecision.Accept accept = assertInstanceOf(AppendDecision.Accept.class, decision);
        assertEquals(-1, accept.truncateAfterLsn());
        assertEquals(2, accept.meta().epoch());
        assertEquals(historyOf(1, 1, 2, 1), accept.meta().history());
        assertEquals(Role.FOLLOWER, accept.meta().role());
        assertEquals(new LogPosition(2, 3), core.last());
        assertEquals(0, core.flushedLsn(), "appended is not flushed");
    }

    @Test
    void appendWithAGapIsRejected() {
        ReplicaCore<String> core = follower(1);

        AppendDecision decision = core.onAppend(0, 1, new LogPosition(1, 2), new LogPosition(1, 4), historyOf(1, 1));

        assertEquals(ErrorCode.INVALID_ARGUMENT, assertInstanceOf(AppendDecision.Reject.class, decision).code());
    }

    @Test
    void appendThatDisagreesAtPrevIsRejected() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(0, 1, LogPosition.ZERO, new LogPosition(1, 2), historyOf(1, 1));
        core.follow(1, 2, "r3", THREE);

        // The leader of epoch 2 holds its own entry at lsn 2, not ours.
        AppendDecision decision = core.onAppend(2, 2, new LogPosition(2, 2), new LogPosition(2, 3), historyOf(1, 1, 2, 2));

        assertEquals(ErrorCode.INVALID_ARGUMENT, assertInstanceOf(AppendDecision.Reject.class, decision).code());
    }

    @Test
    void truncationDropsDivergentEntriesAndAdoptsTheLeadersHistory() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(0, 1, LogPosition.ZERO, new LogPosition(1, 5), historyOf(1, 1));
        core.onLocalFlush(0, 5);
        core.follow(1, 2, "r3", THREE);

        AppendDecision decision = core.onTruncate(2, 2, 3, historyOf(1, 1, 2, 4));

        AppendDecision.Accept accept = assertInstanceOf(AppendDecision.Accept.class, decision);
        assertEquals(3, accept.truncateAfterLsn());
        assertEquals(historyOf(1, 1), accept.meta().history(), "epoch 2 begins after the kept entries");
        assertEquals(new LogPosition(1, 3), core.last());
        assertEquals(3, core.flushedLsn());
        AppendDecision next = core.onAppend(3, 2, new LogPosition(1, 3), new LogPosition(2, 4), historyOf(1, 1, 2, 4));
        assertInstanceOf(AppendDecision.Accept.class, next);
    }

    @Test
    void aRepeatedTruncateDoesNotDropEntriesAlreadyTakenFromTheLeader() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(0, 1, LogPosition.ZERO, new LogPosition(1, 5), historyOf(1, 1));
        core.follow(1, 2, "r3", THREE);
        EpochHistory leaderHistory = historyOf(1, 1, 2, 4);
        core.onTruncate(2, 2, 3, leaderHistory);
        core.onAppend(3, 2, new LogPosition(1, 3), new LogPosition(2, 6), leaderHistory);
        core.onLocalFlush(4, 6);

        AppendDecision again = core.onTruncate(5, 2, 3, leaderHistory);

        assertEquals(-1, assertInstanceOf(AppendDecision.Accept.class, again).truncateAfterLsn());
        assertEquals(new LogPosition(2, 6), core.last());
        assertEquals(6, core.flushedLsn());
    }

    @Test
    void messagesFromALeaderReachAReplicaThatNoLongerFollowsAreRejected() {
        ReplicaCore<String> core = follower(1);
        core.promote(0, 2, THREE);

        AppendDecision decision = core.onAppend(0, 2, LogPosition.ZERO, new LogPosition(2, 1), historyOf(2, 1));

        assertInstanceOf(AppendDecision.Reject.class, decision);
        assertEquals(LogPosition.ZERO, core.last());
    }

    @Test
    void followerIsFreshWhileCaughtUpAndStaleSinceItFellBehind() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(100, 1, LogPosition.ZERO, new LogPosition(1, 2), historyOf(1, 1));
        core.onLocalFlush(110, 2);
        core.onHeartbeat(120, 1, new LogPosition(1, 2));
        assertEquals(0, core.status(200).stalenessMs());

        core.onHeartbeat(300, 1, new LogPosition(1, 5));

        CoreStatus status = core.status(400);
        assertEquals(5, status.leaderLastLsn());
        assertEquals(280, status.stalenessMs(), "last caught up at 120");
        core.onStreamState(450, false);
        assertEquals(330, core.status(450).stalenessMs());
    }

    @Test
    void followerWhoseLeaderWentSilentStopsStreamingAfterTheLeaseWithTheStreamStillOpen() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(100, 1, LogPosition.ZERO, new LogPosition(1, 2), historyOf(1, 1));
        core.onLocalFlush(110, 2);
        core.onHeartbeat(120, 1, new LogPosition(1, 2));
        assertTrue(core.status(120 + LEASE_MS).streaming(), "heard within the lease");
        assertEquals(0, core.status(120 + LEASE_MS).stalenessMs());

        // The leader is paused: no append, no heartbeat, and no onStreamState(false) either.
        CoreStatus silent = core.status(121 + LEASE_MS);
        assertFalse(silent.streaming(), "silent for longer than the lease");
        assertEquals(121 + LEASE_MS - 120, silent.stalenessMs(), "stale since the last contact");

        core.onHeartbeat(900, 1, new LogPosition(1, 2));
        assertTrue(core.status(900).streaming(), "streaming again once the leader is heard");
        assertEquals(0, core.status(900).stalenessMs());
    }

    @Test
    void appendsAndTruncationsCountAsHearingFromTheLeader() {
        ReplicaCore<String> core = follower(1);
        core.onAppend(300, 1, LogPosition.ZERO, new LogPosition(1, 2), historyOf(1, 1));
        assertTrue(core.status(300 + LEASE_MS).streaming());
        core.onTruncate(600, 1, 2, historyOf(1, 1));
        assertTrue(core.status(600 + LEASE_MS).streaming());
        assertFalse(core.status(601 + LEASE_MS).streaming());
    }

    @Test
    void aHeartbeatFromAnOlderEpochDoesNotCountAsHearingFromTheLeader() {
        ReplicaCore<String> core = follower(2);
        core.onHeartbeat(300, 1, LogPosition.ZERO);
        assertFalse(core.status(300 + LEASE_MS).streaming(), "only the stream's first message at 0 was heard");
    }

    @Test
    void followerThatLostItsStreamIsStaleSinceItsLastContact() {
        ReplicaCore<String> core = follower(1);
        core.onHeartbeat(100, 1, LogPosition.ZERO);
        assertEquals(0, core.status(100).stalenessMs());

        core.onStreamState(150, false);

        assertEquals(100, core.status(200).stalenessMs());
    }

    @Test
    void snapshotInstallReplacesTheLogAndAdoptsItsHistory() {
        ReplicaCore<String> core = follower(1);

        DurableMeta meta = core.onSnapshotInstalled(new LogPosition(2, 40), historyOf(1, 1, 2, 30));

        assertEquals(2, meta.epoch());
        assertEquals(new LogPosition(2, 40), core.last());
        assertEquals(40, core.flushedLsn());
        assertEquals(41, core.status(0).logStartLsn());
    }
}
