package dev.tandem.router.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.Position;
import dev.tandem.proto.ReadRequirement;
import org.junit.jupiter.api.Test;

/** What each consistency level asks of the replica that serves it. */
class KvRouterRequirementTest {

    private static final SessionToken TOKEN = new SessionToken("0123456789abcdef", new LogPosition(2, 40));

    @Test
    void sessionReadsCarryTheTokenPositionAndTheWait() {
        ReadRequirement r = KvRouter.requirement(Consistency.SESSION, TOKEN, 200, false);
        assertEquals(Position.newBuilder().setEpoch(2).setLsn(40).build(), r.getMinPosition());
        assertEquals(200, r.getWaitMs());
        assertFalse(r.getRequireLeader());
    }

    @Test
    void strongReadsRequireTheLeaderAndStillCarryTheToken() {
        ReadRequirement r = KvRouter.requirement(Consistency.STRONG, TOKEN, 200, true);
        assertTrue(r.getRequireLeader());
        assertEquals(40, r.getMinPosition().getLsn());
        assertEquals(200, r.getWaitMs());
    }

    @Test
    void boundedReadsCarryTheBoundOnly() {
        ReadRequirement r = KvRouter.requirement(new Consistency(Consistency.Level.BOUNDED, 300), TOKEN, 200, false);
        assertEquals(300, r.getMaxStalenessMs());
        assertFalse(r.hasMinPosition());
    }

    @Test
    void eventualReadsAskNothing() {
        assertEquals(ReadRequirement.getDefaultInstance(), KvRouter.requirement(Consistency.EVENTUAL, TOKEN, 200, false));
    }

    @Test
    void anAnswerBehindTheSessionIsNeverServedForSessionReads() {
        Position behind = Position.newBuilder().setEpoch(2).setLsn(39).build();
        Position at = Position.newBuilder().setEpoch(2).setLsn(40).build();
        assertFalse(KvRouter.coversToken(Consistency.SESSION, TOKEN, behind));
        assertTrue(KvRouter.coversToken(Consistency.SESSION, TOKEN, at));
        assertTrue(KvRouter.coversToken(Consistency.EVENTUAL, TOKEN, behind));
    }
}
