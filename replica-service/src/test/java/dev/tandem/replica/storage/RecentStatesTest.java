package dev.tandem.replica.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RecentStatesTest {

    private static Optional<StoredValue> value(int bytes) {
        return Optional.of(new StoredValue(new byte[bytes], "", new LogPosition(1, 1)));
    }

    @Test
    void keepsTheNewestStateOfEachKeyIncludingAbsence() {
        RecentStates r = new RecentStates(10, 1 << 20);
        r.put("k", value(3));
        r.put("k", Optional.empty());
        assertTrue(r.get("k").isEmpty(), "a deleted key is known to be absent");
        assertNull(r.get("other"), "an unknown key is not a missing key");
        assertEquals(1, r.size());
    }

    @Test
    void evictsTheKeyTouchedLongestAgoBeyondTheKeyBound() {
        RecentStates r = new RecentStates(2, 1 << 20);
        r.put("a", value(1));
        r.put("b", value(1));
        r.put("a", value(2)); // a is now the newest
        r.put("c", value(1));
        assertNull(r.get("b"));
        assertEquals(2, r.get("a").orElseThrow().value().length);
        assertEquals(2, r.size());
    }

    @Test
    void staysWithinItsByteBoundAndSkipsAValueLargerThanAll() {
        RecentStates r = new RecentStates(1000, 10_000);
        for (int i = 0; i < 10; i++) {
            r.put("k" + i, value(3_000));
        }
        assertTrue(r.bytes() <= 10_000, "bytes " + r.bytes());
        assertEquals(3, r.size());
        assertEquals(3_000, r.get("k9").orElseThrow().value().length);
        r.put("huge", value(20_000));
        assertNull(r.get("huge"));
        r.put("k9", value(20_000));
        assertNull(r.get("k9"), "a key whose new state does not fit is forgotten, not left stale");
        r.clear();
        assertEquals(0, r.size());
        assertEquals(0, r.bytes());
    }
}
