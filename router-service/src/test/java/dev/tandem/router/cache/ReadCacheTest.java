package dev.tandem.router.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.EpochStart;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KeyChange;
import dev.tandem.proto.Position;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ReadCacheTest {

    private static final long SILENCE = TimeUnit.SECONDS.toNanos(2);
    private static final List<EpochStart> E1 = List.of(EpochStart.newBuilder().setEpoch(1).setStartLsn(1).setLeaderId("r1").build());
    private static final List<EpochStart> E1_E2_AT_8 = List.of(E1.get(0),
            EpochStart.newBuilder().setEpoch(2).setStartLsn(8).setLeaderId("r2").build());

    private final ReadCache cache = new ReadCache("r2", 1 << 20);

    private static Position pos(long epoch, long lsn) {
        return Position.newBuilder().setEpoch(epoch).setLsn(lsn).build();
    }

    private static ChangeEvent event(long epoch, long applied, List<EpochStart> history, KeyChange... changes) {
        return ChangeEvent.newBuilder().setReplicaId("r2").setApplied(pos(epoch, applied)).addAllHistory(history)
                .addAllChanges(List.of(changes)).build();
    }

    private static KeyChange put(String key, String value, long epoch, long lsn) {
        return KeyChange.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).setContentType("text/plain")
                .setVersion(pos(epoch, lsn)).build();
    }

    private static KeyChange delete(String key, long epoch, long lsn) {
        return KeyChange.newBuilder().setKey(key).setDeleted(true).setVersion(pos(epoch, lsn)).build();
    }

    private static GetResponse found(String value, long epoch, long lsn) {
        return GetResponse.newBuilder().setFound(true).setValue(ByteString.copyFromUtf8(value)).setContentType("text/plain")
                .setVersion(pos(epoch, lsn)).setApplied(pos(epoch, 99)).setServedBy("r2").build();
    }

    private String valueOf(String key) {
        ReadCache.Hit h = cache.lookup(key, null, 0, SILENCE);
        assertNotNull(h, key + " should be cached");
        return h.response().getFound() ? h.response().getValue().toStringUtf8() : null;
    }

    @Test
    void nothingIsTakenInBeforeTheStreamStarts() {
        assertFalse(cache.offer("a", found("1", 1, 3), new LogPosition(1, 5), cache.generation()));
        assertNull(cache.lookup("a", null, 0, SILENCE));
        assertFalse(cache.following(0, SILENCE));
    }

    @Test
    void aReadAtOrAfterTheStreamIsTakenInAndAnsweredWithoutServingFields() {
        cache.start(event(1, 5, E1), 0);
        assertTrue(cache.offer("a", found("1", 1, 3), new LogPosition(1, 5), cache.generation()));
        ReadCache.Hit h = cache.lookup("a", null, 0, SILENCE);
        assertEquals("1", h.response().getValue().toStringUtf8());
        assertEquals(pos(1, 3), h.response().getVersion());
        assertFalse(h.response().hasApplied());
        assertEquals("", h.response().getServedBy());
        assertEquals(new LogPosition(1, 5), h.position(), "exact as of the stream's position");
    }

    @Test
    void aReadOlderThanTheStreamIsRefused() {
        cache.start(event(1, 5, E1), 0);
        // The stream has delivered up to 5; a change to "a" at 4 went by while "a" was not cached.
        assertFalse(cache.offer("a", found("old", 1, 2), new LogPosition(1, 4), cache.generation()));
        assertNull(cache.lookup("a", null, 0, SILENCE));
    }

    @Test
    void aReadFromBeforeANewGenerationIsRefused() {
        cache.start(event(1, 5, E1), 0);
        long before = cache.generation();
        cache.stop();
        cache.start(event(2, 9, E1_E2_AT_8), 0);
        assertFalse(cache.offer("a", found("rolled back", 1, 9), new LogPosition(1, 9), before));
        assertTrue(cache.offer("a", found("new", 2, 8), new LogPosition(2, 9), cache.generation()));
    }

    @Test
    void theStreamUpdatesCachedKeysOnlyAndSkipsChangesTheReadAlreadyHad() {
        cache.start(event(1, 5, E1), 0);
        cache.offer("a", found("at 7", 1, 7), new LogPosition(1, 8), cache.generation());
        // Changes at 6..8 were in the read already (its version is 7); 9 is new.
        cache.apply(event(1, 7, List.of(), put("a", "at 6", 1, 6), put("a", "at 7", 1, 7), put("b", "b at 7", 1, 7)), 0);
        assertEquals("at 7", valueOf("a"));
        assertNull(cache.lookup("b", null, 0, SILENCE), "a key no read put in is not cached");
        cache.apply(event(1, 9, List.of(), put("a", "at 9", 1, 9)), 0);
        assertEquals("at 9", valueOf("a"));
        assertEquals(new LogPosition(1, 9), cache.lookup("a", null, 0, SILENCE).position());
        cache.apply(event(1, 10, List.of(), delete("a", 1, 10)), 0);
        assertNull(valueOf("a"), "deleted: cached as not found");
    }

    @Test
    void aMissingKeyIsCachedUntilTheStreamWritesIt() {
        cache.start(event(1, 5, E1), 0);
        GetResponse missing = GetResponse.newBuilder().setFound(false).setApplied(pos(1, 7)).build();
        assertTrue(cache.offer("a", missing, new LogPosition(1, 7), cache.generation()));
        assertNull(valueOf("a"));
        // Written at 6 and deleted at 7: both already in the read, which found nothing at 7.
        cache.apply(event(1, 7, List.of(), put("a", "briefly", 1, 6), delete("a", 1, 7)), 0);
        assertNull(valueOf("a"));
        cache.apply(event(1, 8, List.of(), put("a", "x", 1, 8)), 0);
        assertEquals("x", valueOf("a"));
    }

    @Test
    void aKeyNewerThanTheStreamPositionIsAnsweredAtItsOwnVersion() {
        cache.start(event(1, 5, E1), 0);
        cache.offer("a", found("at 12", 1, 12), new LogPosition(1, 12), cache.generation());
        assertEquals(new LogPosition(1, 12), cache.lookup("a", null, 0, SILENCE).position());
    }

    @Test
    void aSessionIsAnsweredOnlyOnceTheStreamHasAppliedItsPositionOnTheSameHistory() {
        cache.start(event(2, 10, E1_E2_AT_8), 0);
        cache.offer("a", found("v", 2, 9), new LogPosition(2, 10), cache.generation());
        assertNotNull(cache.lookup("a", new LogPosition(2, 10), 0, SILENCE));
        assertNotNull(cache.lookup("a", new LogPosition(1, 7), 0, SILENCE));
        assertNull(cache.lookup("a", new LogPosition(2, 11), 0, SILENCE), "not applied yet");
        assertNull(cache.lookup("a", new LogPosition(3, 1), 0, SILENCE), "an epoch this follower has not seen");
        assertNull(cache.lookup("a", new LogPosition(1, 9), 0, SILENCE), "lsn 9 is epoch 2's here: the session's write was rolled back");
        cache.apply(event(2, 11, List.of()), 0);
        assertNotNull(cache.lookup("a", new LogPosition(2, 11), 0, SILENCE));
    }

    @Test
    void aSilentStreamStopsAnswering() {
        cache.start(event(1, 5, E1), 100);
        cache.offer("a", found("1", 1, 3), new LogPosition(1, 5), cache.generation());
        assertNotNull(cache.lookup("a", null, 100 + SILENCE, SILENCE));
        assertNull(cache.lookup("a", null, 101 + SILENCE, SILENCE));
        cache.apply(event(1, 5, List.of()), 200 + SILENCE); // a heartbeat
        assertNotNull(cache.lookup("a", null, 200 + SILENCE, SILENCE));
    }

    @Test
    void stopForgetsEverything() {
        cache.start(event(1, 5, E1), 0);
        cache.offer("a", found("1", 1, 3), new LogPosition(1, 5), cache.generation());
        cache.stop();
        assertNull(cache.lookup("a", null, 0, SILENCE));
        assertEquals(0, cache.entries());
        assertEquals(0, cache.bytes());
        cache.apply(event(1, 6, List.of(), put("a", "2", 1, 6)), 0);
        assertFalse(cache.following(0, SILENCE), "events after the end are ignored");
    }

    @Test
    void theOldestKeysGoFirstWhenOverBudgetAndLargeValuesAreNotCached() {
        ReadCache small = new ReadCache("r2", 16 * 1024);
        small.start(event(1, 1, E1), 0);
        String kib = "x".repeat(1024 - 200);
        for (int i = 0; i < 20; i++) {
            assertTrue(small.offer("k" + i, found(kib, 1, 1), new LogPosition(1, 1), small.generation()));
        }
        assertTrue(small.bytes() <= 16 * 1024);
        assertNull(small.lookup("k0", null, 0, SILENCE), "first in, first out");
        assertNotNull(small.lookup("k19", null, 0, SILENCE));
        assertFalse(small.offer("big", found("y".repeat(1100), 1, 1), new LogPosition(1, 1), small.generation()),
                "over a sixteenth of the budget");
        // A cached key that grows too large is dropped, not kept stale.
        small.apply(event(1, 2, List.of(), put("k19", "z".repeat(1100), 1, 2)), 0);
        assertNull(small.lookup("k19", null, 0, SILENCE));
    }

    @Test
    void aFirstEventWithoutAValidHistoryIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> cache.start(event(1, 5, List.of(
                EpochStart.newBuilder().setEpoch(2).setStartLsn(5).build(), EpochStart.newBuilder().setEpoch(1).setStartLsn(1).build())), 0));
        assertFalse(cache.following(0, SILENCE));
    }
}
