package dev.tandem.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SessionTokenTest {

    @Test
    void roundTripsThroughItsTextForm() {
        SessionToken t = new SessionToken("0123456789abcdef", new LogPosition(4, 77));
        assertEquals("v1.0123456789abcdef.4.77", t.toString());
        assertEquals(t, SessionToken.parse(t.toString()));
    }

    @Test
    void advancesOnlyForward() {
        SessionToken t = new SessionToken("0123456789abcdef", new LogPosition(4, 77));
        assertSame(t, t.advancedTo(new LogPosition(4, 70)));
        assertEquals(new LogPosition(5, 71), t.advancedTo(new LogPosition(5, 71)).position());
    }

    @Test
    void rejectsMalformedTokensWithAReason() {
        for (String bad : new String[] {null, "", "v2.0123456789abcdef.1.1", "v1.xyz.1.1", "v1.0123456789abcdef.1", "v1.0123456789abcdef.a.1",
                "v1.0123456789ABCDEF.1.1", "v1.0123456789abcde.1.1", "v1.0123456789abcdef0.1.1", "v1.0123456789abcdeg.1.1", "v1.0123456789abcd/f.1.1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SessionToken.parse(bad));
            assertEquals(true, e.getMessage() != null && !e.getMessage().isBlank());
        }
    }

    @Test
    void freshTokensHaveDistinctIds() {
        assertEquals(false, SessionToken.fresh().sessionId().equals(SessionToken.fresh().sessionId()));
    }
}
