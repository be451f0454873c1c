package dev.tandem.replica.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.KeyChange;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Mutation;
import dev.tandem.proto.PutValue;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ChangeFeedTest {

    private static final EpochHistory H1 = EpochHistory.empty().withEpoch(1, 1, "r1");
    private static final EpochHistory H2 = H1.withEpoch(2, 4, "r2");

    /** Collects what the sender thread writes; {@code ready} plays gRPC flow control. */
    private static final class TestSink implements ChangeFeed.Sink {
        final BlockingQueue<ChangeEvent> events = new LinkedBlockingQueue<>();
        final BlockingQueue<Status> ended = new LinkedBlockingQueue<>();
        volatile boolean ready = true;

        @Override
        public boolean isReady() {
            return ready;
        }

        @Override
        public void send(ChangeEvent event) {
            events.add(event);
        }

        @Override
        public void end(Status status) {
            ended.add(status);
        }

        ChangeEvent next() throws InterruptedException {
            ChangeEvent e = events.poll(5, TimeUnit.SECONDS);
            assertNotNull(e, "no event within 5 s");
            return e;
        }
    }

    private final List<ChangeFeed.EndReason> endings = new CopyOnWriteArrayList<>();
    private ChangeFeed feed = new ChangeFeed("r1", 1 << 20, 2, 100, new LogPosition(1, 3), H1, endings::add);

    @AfterEach
    void close() {
        feed.close();
    }

    private static LogEntry put(long epoch, long lsn, String key, int valueBytes) {
        return LogEntry.newBuilder().setEpoch(epoch).setLsn(lsn).addMutations(Mutation.newBuilder().setPut(PutValue.newBuilder()
                .setKey(key).setValue(ByteString.copyFrom(new byte[valueBytes])).setContentType("text/plain"))).build();
    }

    private static LogEntry delete(long epoch, long lsn, String key) {
        return LogEntry.newBuilder().setEpoch(epoch).setLsn(lsn).addMutations(Mutation.newBuilder().setDeleteKey(key)).build();
    }

    private TestSink subscribe(long heartbeatMs, long nowMs) {
        TestSink sink = new TestSink();
        feed.start(feed.subscription(sink, heartbeatMs), nowMs);
        return sink;
    }

    @Test
    void theFirstEventIsThePositionAndHistoryThenEveryChangeInLogOrder() throws Exception {
        TestSink sink = subscribe(10_000, 0);
        ChangeEvent first = sink.next();
        assertEquals(3, first.getApplied().getLsn());
        assertEquals(H1, EpochHistory.fromProto(first.getHistoryList()));
        assertEquals(0, first.getChangesCount());

        feed.published(List.of(put(1, 4, "a", 3), delete(1, 5, "b")), H1, 1);
        ChangeEvent e = sink.next();
        assertEquals(5, e.getApplied().getLsn());
        assertEquals(0, e.getHistoryCount(), "history unchanged: not repeated");
        assertEquals(List.of("a", "b"), e.getChangesList().stream().map(KeyChange::getKey).toList());
        assertEquals(4, e.getChanges(0).getVersion().getLsn());
        assertEquals(3, e.getChanges(0).getValue().size());
        assertTrue(e.getChanges(1).getDeleted());
    }

    @Test
    void aNewEpochSendsTheHistoryAndAnEntryWithoutChangesStillMovesThePosition() throws Exception {
        TestSink sink = subscribe(10_000, 0);
        sink.next();
        feed.published(List.of(LogEntry.newBuilder().setEpoch(2).setLsn(4).build()), H2, 1);
        ChangeEvent e = sink.next();
        assertEquals(new LogPosition(2, 4), LogPosition.of(e.getApplied()));
        assertEquals(H2, EpochHistory.fromProto(e.getHistoryList()));
        assertEquals(0, e.getChangesCount());
    }

    @Test
    void aLargeBatchIsCutIntoEventsThatEachClaimOnlyFullyAppliedEntries() throws Exception {
        // Room for the whole batch: with the 1 MiB limit the reader would be ended as behind whenever
        // the sender thread has not written the first event before the second is queued.
        feed.close();
        feed = new ChangeFeed("r1", 8 << 20, 2, 100, new LogPosition(1, 3), H1, endings::add);
        TestSink sink = subscribe(10_000, 0);
        sink.next();
        List<LogEntry> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            // 5 entries of 2 puts of 300 KiB: 3 MiB, more than one event holds.
            batch.add(LogEntry.newBuilder().setEpoch(1).setLsn(4 + i)
                    .addAllMutations(put(1, 4 + i, "k" + i + "a", 300 << 10).getMutationsList())
                    .addAllMutations(put(1, 4 + i, "k" + i + "b", 300 << 10).getMutationsList()).build());
        }
        feed.published(batch, H1, 1);
        List<String> keys = new ArrayList<>();
        long applied = 3;
        while (applied < 8) {
            ChangeEvent e = sink.next();
            assertTrue(e.getSerializedSize() < (2 << 20), "an event stays far below gRPC's 4 MiB default");
            assertTrue(e.getApplied().getLsn() >= applied, "positions never go back");
            for (KeyChange c : e.getChangesList()) {
                keys.add(c.getKey());
                // Every change at or below the event's position belongs to an entry applied in full by it
                // or by a later event; none claims more than what was sent.
                assertTrue(c.getVersion().getLsn() <= e.getApplied().getLsn() + 1);
            }
            applied = e.getApplied().getLsn();
            if (applied < 8) {
                // An event cut inside entry n says n-1: the cache must not believe n's other half arrived.
                long lastVersion = e.getChanges(e.getChangesCount() - 1).getVersion().getLsn();
                assertTrue(applied == lastVersion || applied == lastVersion - 1);
            }
        }
        assertEquals(List.of("k0a", "k0b", "k1a", "k1b", "k2a", "k2b", "k3a", "k3b", "k4a", "k4b"), keys);
        assertEquals(List.of(), endings);
    }

    @Test
    void anIdleStreamGetsHeartbeatsAtItsInterval() throws Exception {
        TestSink sink = subscribe(50, 0);
        sink.next();
        feed.tick(H1, 49);
        assertNull(sink.events.poll(100, TimeUnit.MILLISECONDS));
        feed.tick(H1, 50);
        ChangeEvent beat = sink.next();
        assertEquals(3, beat.getApplied().getLsn());
        assertEquals(0, beat.getChangesCount());
    }

    @Test
    void aReaderThatFallsBehindIsEndedWithResourceExhausted() throws Exception {
        TestSink sink = subscribe(10_000, 0);
        sink.next();
        sink.ready = false;
        for (int i = 0; i < 4; i++) {
            feed.published(List.of(put(1, 4 + i, "k", 300 << 10)), H1, 1);
        }
        Status st = sink.ended.poll(5, TimeUnit.SECONDS);
        assertNotNull(st);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, st.getCode());
        assertEquals(0, feed.subscribers());
        assertEquals(List.of(ChangeFeed.EndReason.BEHIND), endings);
    }

    @Test
    void aTruncationEndsEveryStreamWithAbortedAndTheNextStartsFromTheNewPosition() throws Exception {
        TestSink a = subscribe(10_000, 0);
        TestSink b = subscribe(10_000, 0);
        feed.published(List.of(put(1, 4, "x", 1)), H1, 1);
        feed.reset(new LogPosition(1, 3), H2, "the log was truncated after lsn 3");
        assertEquals(Status.Code.ABORTED, a.ended.poll(5, TimeUnit.SECONDS).getCode());
        assertEquals(Status.Code.ABORTED, b.ended.poll(5, TimeUnit.SECONDS).getCode());
        assertEquals(0, feed.subscribers());
        TestSink c = subscribe(10_000, 2);
        ChangeEvent first = c.next();
        assertEquals(3, first.getApplied().getLsn());
        assertEquals(H2, EpochHistory.fromProto(first.getHistoryList()));
    }

    @Test
    void subscribersBeyondTheLimitAreRefusedAndCancelledOnesFreeTheirPlace() throws Exception {
        feed.start(feed.subscription(new TestSink(), 0), 0);
        ChangeFeed.Subscription second = feed.subscription(new TestSink(), 0);
        feed.start(second, 0);
        TestSink third = subscribe(0, 0);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.ended.poll(5, TimeUnit.SECONDS).getCode());
        second.cancelled();
        assertEquals(1, feed.subscribers());
        TestSink fourth = subscribe(0, 0);
        assertEquals(3, fourth.next().getApplied().getLsn());
        assertNull(fourth.ended.peek());
        assertEquals(2, feed.subscribers());
    }

    @Test
    void withoutSubscribersThePositionStillFollowsTheLog() throws Exception {
        feed.published(List.of(put(1, 4, "a", 1), put(1, 5, "b", 1)), H1, 1);
        TestSink sink = subscribe(10_000, 2);
        assertEquals(5, sink.next().getApplied().getLsn());
    }
}
