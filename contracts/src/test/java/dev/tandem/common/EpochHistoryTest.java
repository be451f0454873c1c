package dev.tandem.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tandem.common.EpochHistory.Coverage;
import org.junit.jupiter.api.Test;

class EpochHistoryTest {

    // Leader of epoch 1 wrote 1..10; epoch 2 began at 11 and wrote 11..20 (old leader of 1 had gone on to 13).
    private final EpochHistory newLeader = EpochHistory.empty().withEpoch(1, 1, "a").withEpoch(2, 11, "b");
    private final EpochHistory oldLeader = EpochHistory.empty().withEpoch(1, 1, "a");

    @Test
    void entryEpochIsTheLatestEpochStartingAtOrBeforeIt() {
        assertEquals(0, newLeader.epochOf(0));
        assertEquals(1, newLeader.epochOf(10));
        assertEquals(2, newLeader.epochOf(11));
        assertEquals(2, newLeader.epochOf(500));
    }

    @Test
    void deposedLeaderSharesOnlyThePrefixBeforeTheNewEpoch() {
        assertEquals(10, oldLeader.commonPrefixEnd(13, newLeader, 20));
        assertEquals(10, newLeader.commonPrefixEnd(20, oldLeader, 13));
    }

    @Test
    void laggingFollowerSharesItsWholeLog() {
        assertEquals(7, oldLeader.commonPrefixEnd(7, newLeader, 20));
    }

    @Test
    void emptyEpochOwnsNothing() {
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "a").withEpoch(2, 5, "b").withEpoch(3, 5, "c");
        assertEquals(3, h.epochOf(5));
        EpochHistory other = EpochHistory.empty().withEpoch(1, 1, "a").withEpoch(2, 5, "b");
        // other wrote 5..8 in epoch 2, which h never saw: only 1..4 are shared.
        assertEquals(4, h.commonPrefixEnd(9, other, 8));
    }

    @Test
    void disjointLogsShareNothing() {
        EpochHistory x = EpochHistory.empty().withEpoch(2, 1, "b");
        assertEquals(0, oldLeader.commonPrefixEnd(5, x, 5));
    }

    @Test
    void sessionPositionCoverageFollowsTheHistory() {
        assertEquals(Coverage.COVERED, newLeader.coverage(new LogPosition(1, 10), 15));
        assertEquals(Coverage.PENDING, newLeader.coverage(new LogPosition(2, 18), 15));
        // Written by the old leader at 12 in epoch 1, but 12 belongs to epoch 2 now: rolled back.
        assertEquals(Coverage.LOST, newLeader.coverage(new LogPosition(1, 12), 15));
        assertEquals(Coverage.LOST, newLeader.coverage(new LogPosition(1, 12), 5));
        // A replica that has not heard of epoch 2 yet cannot judge a position from it.
        assertEquals(Coverage.PENDING, oldLeader.coverage(new LogPosition(2, 11), 13));
        assertEquals(Coverage.COVERED, oldLeader.coverage(LogPosition.ZERO, 0));
    }

    @Test
    void truncationDropsEpochsThatLostAllTheirEntries() {
        EpochHistory h = newLeader.withEpoch(3, 21, "c");
        assertEquals(newLeader, h.truncatedAfter(20));
        assertEquals(h, h.truncatedAfter(21));
    }

    @Test
    void epochsMustIncrease() {
        assertThrows(IllegalArgumentException.class, () -> newLeader.withEpoch(2, 30, "x"));
        assertThrows(IllegalArgumentException.class, () -> newLeader.withEpoch(3, 5, "x"));
    }

    @Test
    void historySurvivesTheWire() {
        assertEquals(newLeader, EpochHistory.fromProto(newLeader.toProto()));
    }
}
