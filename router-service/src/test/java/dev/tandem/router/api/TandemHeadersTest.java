package dev.tandem.router.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.Condition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import dev.tandem.router.routing.RouterException;
import org.junit.jupiter.api.Test;

class TandemHeadersTest {

    @Test
    void missingSessionStartsAFreshOneAtPositionZero() {
        TandemHeaders.SessionHeader a = TandemHeaders.session(null);
        TandemHeaders.SessionHeader b = TandemHeaders.session("");
        assertFalse(a.sent());
        assertEquals(LogPosition.ZERO, a.token().position());
        assertNotEquals(a.token().sessionId(), b.token().sessionId());
    }

    @Test
    void aSentTokenRoundTrips() {
        TandemHeaders.SessionHeader s = TandemHeaders.session("v1.00000000000000ff.3.1042");
        assertTrue(s.sent());
        assertEquals("00000000000000ff", s.token().sessionId());
        assertEquals(new LogPosition(3, 1042), s.token().position());
        assertEquals("v1.00000000000000ff.3.1042", s.token().toString());
    }

    @Test
    void malformedTokensAre400NamingTheHeader() {
        for (String bad : new String[] {"v2.00000000000000ff.3.1", "v1.XYZ.3.1", "v1.00000000000000ff.3", "v1.00000000000000ff.a.b", "garbage"}) {
            RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.session(bad), bad);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().startsWith("Tandem-Session"), e.getMessage());
        }
    }

    @Test
    void tokensOnlyMoveForward() {
        SessionToken t = new SessionToken("00000000000000ff", new LogPosition(2, 50));
        assertEquals(new LogPosition(2, 50), t.advancedTo(new LogPosition(2, 40)).position());
        assertEquals(new LogPosition(2, 51), t.advancedTo(new LogPosition(2, 51)).position());
        // A newer epoch wins even at a lower lsn: that epoch decided what lsn 45 is.
        assertEquals(new LogPosition(3, 45), t.advancedTo(new LogPosition(3, 45)).position());
    }

    @Test
    void writeConcernsParseAndAbsentMeansTheClusterDefault() {
        assertEquals(WriteConcern.WRITE_CONCERN_DEFAULT, TandemHeaders.writeConcern(null));
        assertEquals(WriteConcern.WRITE_CONCERN_MAJORITY, TandemHeaders.writeConcern("Majority"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(RouterException.class, () -> TandemHeaders.writeConcern("two")).code());
    }

    @Test
    void conditionsFromIfMatchAndIfNoneMatch() {
        assertTrue(TandemHeaders.condition(null, null).isEmpty());
        assertEquals(Condition.newBuilder().setMustNotExist(true).build(), TandemHeaders.condition(null, "*").orElseThrow());
        assertEquals(Condition.newBuilder().setMustExist(true).build(), TandemHeaders.condition("*", null).orElseThrow());
        Condition v = TandemHeaders.condition("\"3.17\"", null).orElseThrow();
        assertEquals(3, v.getExpectedVersion().getEpoch());
        assertEquals(17, v.getExpectedVersion().getLsn());
        assertEquals(17, TandemHeaders.condition("W/\"3.17\"", null).orElseThrow().getExpectedVersion().getLsn());
        assertEquals(17, TandemHeaders.condition("3.17", null).orElseThrow().getExpectedVersion().getLsn());
    }

    @Test
    void unsupportedConditionsAre400() {
        assertThrows(RouterException.class, () -> TandemHeaders.condition("\"1.2\"", "*"));
        assertThrows(RouterException.class, () -> TandemHeaders.condition(null, "\"1.2\""));
        assertThrows(RouterException.class, () -> TandemHeaders.condition("\"1.2\", \"1.3\"", null));
        assertThrows(RouterException.class, () -> TandemHeaders.condition("\"1.0\"", null));
        assertThrows(RouterException.class, () -> TandemHeaders.condition("abc", null));
    }

    @Test
    void etagIsTheQuotedVersion() {
        assertEquals("\"4.99\"", TandemHeaders.etag(new LogPosition(4, 99)));
        assertEquals(new LogPosition(4, 99), TandemHeaders.version(TandemHeaders.etag(new LogPosition(4, 99)), "x"));
    }

    @Test
    void idempotencyKeysAreNamespacedAndBounded() {
        assertEquals("client-abc-1", TandemHeaders.requestId("abc-1"));
        assertTrue(TandemHeaders.requestId(null).startsWith("router-"));
        assertNotEquals(TandemHeaders.requestId(null), TandemHeaders.requestId(null));
        assertThrows(RouterException.class, () -> TandemHeaders.requestId("x".repeat(129)));
        assertThrows(RouterException.class, () -> TandemHeaders.requestId("has space"));
    }

    @Test
    void keysMustBeNonEmptyWithoutControlCharacters() {
        assertEquals("a/b c", TandemHeaders.key("a/b c"));
        assertThrows(RouterException.class, () -> TandemHeaders.key(""));
        assertThrows(RouterException.class, () -> TandemHeaders.key("a\u0000b"));
        assertEquals(ErrorCode.KEY_TOO_LARGE, assertThrows(RouterException.class, () -> TandemHeaders.key("k".repeat(70_000))).code());
    }
}
