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
    void aWeakIfMatchTagNeverMatchesSoTheWriteFailsWith412() {
        // RFC 9110 13.1.1: If-Match uses the strong comparison; W/"3.17" must not pass as "3.17".
        RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.condition("W/\"3.17\"", null));
        assertEquals(ErrorCode.CONDITION_FAILED, e.code());
        assertTrue(e.getMessage().contains("strong"), e.getMessage());
    }

    @Test
    void unsupportedConditionalHeadersAreRefusedNotIgnored() {
        TandemHeaders.noConditionalHeader("If-None-Match", null, "DELETE");
        TandemHeaders.noConditionalHeader("If-None-Match", " ", "DELETE");
        RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.noConditionalHeader("If-None-Match", "*", "DELETE"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().startsWith("If-None-Match is not supported on DELETE"), e.getMessage());
    }

    @Test
    void entityTagListsKeepWeaknessAndRefuseGarbage() {
        assertEquals(java.util.List.of("*"), TandemHeaders.entityTags("*", "If-None-Match"));
        assertEquals(java.util.List.of("\"1.2\"", "W/\"1.3\""), TandemHeaders.entityTags("\"1.2\", W/\"1.3\"", "If-None-Match"));
        for (String bad : new String[] {"1.2", "\"1.2", "W/1.2", "\"a\"b\""}) {
            RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.entityTags(bad, "If-None-Match"), bad);
            assertTrue(e.getMessage().startsWith("If-None-Match"), e.getMessage());
        }
    }

    @Test
    void headerParserMessagesNameTheHeaderOnce() {
        String consistency = assertThrows(RouterException.class, () -> TandemHeaders.consistency("linearizable")).getMessage();
        assertTrue(consistency.startsWith("Tandem-Consistency"), consistency);
        assertEquals(consistency.indexOf("Tandem-Consistency"), consistency.lastIndexOf("Tandem-Consistency"), consistency);
        String concern = assertThrows(RouterException.class, () -> TandemHeaders.writeConcern("two")).getMessage();
        assertTrue(concern.startsWith("Tandem-Write-Concern"), concern);
        assertEquals(concern.indexOf("Tandem-Write-Concern"), concern.lastIndexOf("Tandem-Write-Concern"), concern);
    }

    @Test
    void scanLimitsOutOfRangeSaySoEvenWhenTheyOverflowAnInt() {
        assertEquals(0, TandemHeaders.scanLimit(null));
        assertEquals(10_000, TandemHeaders.scanLimit("10000"));
        assertTrue(assertThrows(RouterException.class, () -> TandemHeaders.scanLimit("99999999999999")).getMessage()
                .startsWith("limit must be in 1..10000, got 99999999999999"));
        assertTrue(assertThrows(RouterException.class, () -> TandemHeaders.scanLimit("-5")).getMessage().startsWith("limit must be in 1..10000"));
        assertTrue(assertThrows(RouterException.class, () -> TandemHeaders.scanLimit("ten")).getMessage().contains("whole number"));
    }

    @Test
    void rawPathKeysAreDecodedStrictlyAndNeverNormalized() {
        assertEquals("a/../b2", TandemHeaders.keyFromRawPath("a/../b2"));
        assertEquals("x//y", TandemHeaders.keyFromRawPath("x//y"));
        assertEquals("x/./y", TandemHeaders.keyFromRawPath("x/./y"));
        assertEquals("a/../b3", TandemHeaders.keyFromRawPath("a%2F..%2Fb3"));
        assertEquals("a+b c", TandemHeaders.keyFromRawPath("a+b%20c"), "'+' is a plus in a path, not a space");
        assertEquals("é€😀", TandemHeaders.keyFromRawPath("%C3%A9%E2%82%AC%F0%9F%98%80"));
        for (String bad : new String[] {"%ZZ", "a%2", "a%", "%C3", "%FF", "%ED%A0%80" /* a UTF-8-encoded surrogate */}) {
            RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.keyFromRawPath(bad), bad);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), bad);
        }
        assertTrue(assertThrows(RouterException.class, () -> TandemHeaders.keyFromRawPath("")).getMessage().contains("must not be empty"));
    }

    @Test
    void keysWithALoneSurrogateAreRefused() {
        assertEquals("😀", TandemHeaders.key("\ud83d\ude00"));
        for (String bad : new String[] {"\ud800", "a\udc00", "\ud83d", "\ude00\ud83d"}) {
            RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.key(bad));
            assertTrue(e.getMessage().contains("lone surrogate"), e.getMessage());
        }
    }

    @Test
    void contentTypesMustParseAsMediaTypes() {
        for (String ok : new String[] {"text/plain", "text/plain; charset=utf-8", "application/vnd.a+json;v=\"1;2\"", "a/b;", "x/y ; q=1"}) {
            assertEquals(ok, TandemHeaders.contentType(ok, "Content-Type"), ok);
        }
        assertEquals(null, TandemHeaders.contentType(null, "Content-Type"));
        for (String bad : new String[] {"garbage", "text/", "a b", "/", "", "/plain", "text/plain; charset", "text/plain; a=\"open", "té/x", "a/b c"}) {
            RouterException e = assertThrows(RouterException.class, () -> TandemHeaders.contentType(bad, "Content-Type"), bad);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().startsWith("Content-Type must be a media type"), e.getMessage());
        }
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
