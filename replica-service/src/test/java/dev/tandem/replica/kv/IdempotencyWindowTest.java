package dev.tandem.replica.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import org.junit.jupiter.api.Test;

class IdempotencyWindowTest {

    @Test
    void retryWithinTheWindowFindsTheOriginalPosition() {
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("r1", new LogPosition(1, 5), 100);
        assertEquals(new LogPosition(1, 5), w.lookup("r1", 500).orElseThrow());
        assertTrue(w.lookup("", 500).isEmpty());
    }

    @Test
    void windowIsBoundedByCountAndAge() {
        IdempotencyWindow w = new IdempotencyWindow(2, 1000);
        w.record("a", new LogPosition(1, 1), 100);
        w.record("b", new LogPosition(1, 2), 200);
        w.record("c", new LogPosition(1, 3), 300);
        assertTrue(w.lookup("a", 300).isEmpty(), "oldest id evicted by count");
        assertTrue(w.lookup("b", 1201).isEmpty(), "id expired by age");
        assertTrue(w.lookup("c", 1201).isPresent());
    }

    @Test
    void rolledBackWritesAreForgotten() {
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("a", new LogPosition(1, 1), 100);
        w.record("b", new LogPosition(1, 2), 100);
        w.truncateAfter(1);
        assertTrue(w.lookup("b", 100).isEmpty());
        assertTrue(w.lookup("a", 100).isPresent());
    }
}
