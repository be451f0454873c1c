package dev.tandem.replica.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import org.junit.jupiter.api.Test;

class IdempotencyWindowTest {

    private static final ByteString FP_A = ByteString.copyFromUtf8("fingerprint-of-write-a-32-bytes!!");
    private static final ByteString FP_B = ByteString.copyFromUtf8("fingerprint-of-write-b-32-bytes!!");

    @Test
    void retryWithinTheWindowFindsTheOriginalPosition() {
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("r1", new LogPosition(1, 5), 100, FP_A);
        assertEquals(new LogPosition(1, 5), w.lookup("r1", 500).orElseThrow().position());
        assertTrue(w.lookup("", 500).isEmpty());
    }

    @Test
    void aRequestIdReusedForOtherOpsIsNotARetry() {
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("r1", new LogPosition(1, 5), 100, FP_A);
        IdempotencyWindow.Earlier earlier = w.lookup("r1", 500).orElseThrow();
        assertTrue(earlier.isRetryOf(FP_A));
        assertFalse(earlier.isRetryOf(FP_B));
        assertFalse(earlier.isRetryOf(ByteString.EMPTY), "a request without a fingerprint is not the fingerprinted write");
    }

    @Test
    void aWriteLoggedWithoutAFingerprintStillReplaysAnyRetry() {
        // Entries and request-id records from before fingerprints existed carry none: they cannot
        // be compared, and replay as every retry did then.
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("old", new LogPosition(1, 2), 100, ByteString.EMPTY);
        assertTrue(w.lookup("old", 500).orElseThrow().isRetryOf(FP_B));
    }

    @Test
    void windowIsBoundedByCountAndAge() {
        IdempotencyWindow w = new IdempotencyWindow(2, 1000);
        w.record("a", new LogPosition(1, 1), 100, FP_A);
        w.record("b", new LogPosition(1, 2), 200, FP_A);
        w.record("c", new LogPosition(1, 3), 300, FP_A);
        assertTrue(w.lookup("a", 300).isEmpty(), "oldest id evicted by count");
        assertTrue(w.lookup("b", 1201).isEmpty(), "id expired by age");
        assertTrue(w.lookup("c", 1201).isPresent());
    }

    @Test
    void rolledBackWritesAreForgotten() {
        IdempotencyWindow w = new IdempotencyWindow(10, 1000);
        w.record("a", new LogPosition(1, 1), 100, FP_A);
        w.record("b", new LogPosition(1, 2), 100, FP_B);
        w.truncateAfter(1);
        assertTrue(w.lookup("b", 100).isEmpty());
        assertTrue(w.lookup("a", 100).isPresent());
    }
}
