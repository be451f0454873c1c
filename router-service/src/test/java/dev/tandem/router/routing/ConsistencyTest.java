package dev.tandem.router.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConsistencyTest {

    @Test
    void absentHeaderMeansSession() {
        assertEquals(Consistency.SESSION, Consistency.parse(null));
        assertEquals(Consistency.SESSION, Consistency.parse("  "));
    }

    @Test
    void namedLevelsParseCaseInsensitively() {
        assertEquals(Consistency.Level.STRONG, Consistency.parse("Strong").level());
        assertEquals(Consistency.Level.EVENTUAL, Consistency.parse(" eventual ").level());
        assertEquals(Consistency.Level.SESSION, Consistency.parse("SESSION").level());
    }

    @Test
    void boundedCarriesItsStalenessInMilliseconds() {
        Consistency c = Consistency.parse("bounded; max-staleness-ms = 250");
        assertEquals(Consistency.Level.BOUNDED, c.level());
        assertEquals(250, c.maxStalenessMs());
        assertEquals("bounded;max-staleness-ms=250", c.toString());
    }

    @Test
    void boundedWithoutABoundIsRejectedWithAnExample() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Consistency.parse("bounded"));
        assertTrue(e.getMessage().contains("bounded;max-staleness-ms=500"), e.getMessage());
    }

    @Test
    void badBoundsAndUnknownLevelsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("bounded;max-staleness-ms=0"));
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("bounded;max-staleness-ms=-5"));
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("bounded;max-staleness-ms=soon"));
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("bounded;max-lag=5"));
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("session;wait=5"));
        assertThrows(IllegalArgumentException.class, () -> Consistency.parse("linearizable"));
    }
}
