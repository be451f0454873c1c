package dev.tandem.replica.node;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.KeyChange;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Mutation;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The change streams of {@code KvService.Changes}: every key the applied entries write, in log
 * order, to each subscribed router's read cache.
 *
 * <p>The driver calls {@link #published} after each commit, {@link #tick} on its ticks and
 * {@link #reset} after a truncation or a snapshot install; those, and {@link #start}, hold this
 * object's lock, so a subscriber's first event (the position it starts at) is followed by exactly
 * the changes after it. The driver only builds and queues events; a single sender thread writes
 * them to the streams as each becomes ready (gRPC flow control), so a slow router never holds up
 * writes. A subscriber whose queue passes {@code maxPendingBytes} is ended with
 * RESOURCE_EXHAUSTED, and every subscriber is ended with ABORTED by {@link #reset}: what it learnt
 * may have been rolled back.
 *
 * <p>With no subscriber the driver only moves the feed's position (an uncontended lock): a replica
 * nobody reads changes from builds no events.
 */
public final class ChangeFeed implements AutoCloseable {

    /** Change bytes (keys, values, content types) per event before the next starts; one change may exceed it. */
    static final long MAX_EVENT_CHANGE_BYTES = 1 << 20;
    /** Bytes counted per key change on top of its key, value and content type (positions, framing). */
    private static final long CHANGE_OVERHEAD_BYTES = 32;

    /** Where a subscriber's events go: the gRPC stream, or a test's list. Called from the sender thread only. */
    public interface Sink {
        /** The stream takes more without buffering (gRPC's isReady). */
        boolean isReady();

        void send(ChangeEvent event);

        void end(Status status);
    }

    /** Why a stream ended, for the metric. */
    public enum EndReason { RESET, BEHIND, CANCELLED, TOO_MANY, SHUTDOWN }

    private final String replicaId;
    private final long maxPendingBytes;
    private final int maxSubscribers;
    private final long defaultHeartbeatMs;
    private final Consumer<EndReason> onEnd;
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "tandem-change-feed");
        t.setDaemon(true);
        return t;
    });
    /** Read without the lock by the driver's fast path; changed under it. */
    private volatile List<Subscription> subscribers = List.of();
    private LogPosition position;
    private EpochHistory history;

    /**
     * @param start          the applied position and history the replica opened with
     * @param onEnd          told of every stream that ends (metrics)
     */
    public ChangeFeed(String replicaId, long maxPendingBytes, int maxSubscribers, long defaultHeartbeatMs,
                      LogPosition start, EpochHistory history, Consumer<EndReason> onEnd) {
        this.replicaId = replicaId;
        this.maxPendingBytes = maxPendingBytes;
        this.maxSubscribers = maxSubscribers;
        this.defaultHeartbeatMs = defaultHeartbeatMs;
        this.position = start;
        this.history = history;
        this.onEnd = onEnd;
    }

    public int subscribers() {
        return subscribers.size();
    }

    /** A subscription not yet started: set the stream's handlers to it, then {@link #start} it. */
    public Subscription subscription(Sink sink, long heartbeatMs) {
        return new Subscription(sink, heartbeatMs > 0 ? heartbeatMs : defaultHeartbeatMs);
    }

    /** Sends {@code s} the current position and history, then every change after it. */
    public synchronized void start(Subscription s, long nowMs) {
        if (subscribers.size() >= maxSubscribers) {
            s.end(Status.RESOURCE_EXHAUSTED.withDescription("this replica already serves " + maxSubscribers
                    + " change streams (tandem.replica.change-feed.max-subscribers)"), EndReason.TOO_MANY);
            return;
        }
        s.lastQueuedMs = nowMs;
        s.queue(event(position, true).build());
        List<Subscription> next = new ArrayList<>(subscribers);
        next.add(s);
        subscribers = List.copyOf(next);
    }

    /**
     * The driver committed {@code entries} (in log order; maybe none when only the history
     * changed): queue their key changes, cut into events of about {@link #MAX_EVENT_CHANGE_BYTES}.
     */
    public void published(List<LogEntry> entries, EpochHistory nowHistory, long nowMs) {
        // The check is under the lock: a subscriber starting between it and the position update
        // would be told the old position and then miss these changes.
        synchronized (this) {
            if (subscribers.isEmpty()) {
                trackWithoutSubscribers(entries, nowHistory);
                return;
            }
            boolean historyChanged = !nowHistory.equals(history);
            history = nowHistory;
            ChangeEvent.Builder ev = null;
            long bytes = 0;
            for (LogEntry e : entries) {
                LogPosition at = new LogPosition(e.getEpoch(), e.getLsn());
                dev.tandem.proto.Position version = at.toProto();
                for (Mutation m : e.getMutationsList()) {
                    KeyChange c = m.hasPut()
                            ? KeyChange.newBuilder().setKey(m.getPut().getKey()).setVersion(version)
                                    .setValue(m.getPut().getValue()).setContentType(m.getPut().getContentType()).build()
                            : KeyChange.newBuilder().setKey(m.getDeleteKey()).setVersion(version).setDeleted(true).build();
                    long size = c.getKey().length() + c.getValue().size() + c.getContentType().length() + CHANGE_OVERHEAD_BYTES;
                    if (ev != null && bytes + size > MAX_EVENT_CHANGE_BYTES) {
                        // Cut mid-batch (maybe mid-entry): the event says only what is applied in full.
                        queueAll(ev.build(), nowMs);
                        ev = null;
                    }
                    if (ev == null) {
                        ev = event(position, historyChanged);
                        historyChanged = false;
                        bytes = 0;
                    }
                    ev.addChanges(c);
                    bytes += size;
                }
                position = at;
                if (ev != null) {
                    ev.setApplied(at.toProto());
                }
            }
            if (ev == null && (historyChanged || !entries.isEmpty())) {
                // Entries without key changes (an epoch's first) still move the position sessions wait for.
                ev = event(position, historyChanged);
            }
            if (ev != null) {
                queueAll(ev.build(), nowMs);
            }
        }
    }

    private void trackWithoutSubscribers(List<LogEntry> entries, EpochHistory nowHistory) {
        if (!entries.isEmpty()) {
            LogEntry last = entries.get(entries.size() - 1);
            position = new LogPosition(last.getEpoch(), last.getLsn());
        }
        history = nowHistory;
    }

    /** Heartbeats: an event with no changes to every subscriber that has had none for its interval. */
    public void tick(EpochHistory nowHistory, long nowMs) {
        if (subscribers.isEmpty()) {
            return;
        }
        synchronized (this) {
            boolean historyChanged = !nowHistory.equals(history);
            history = nowHistory;
            ChangeEvent beat = null;
            for (Subscription s : subscribers) {
                if (historyChanged || nowMs - s.lastQueuedMs >= s.heartbeatMs) {
                    if (beat == null) {
                        beat = event(position, historyChanged).build();
                    }
                    s.lastQueuedMs = nowMs;
                    s.queue(beat);
                }
            }
        }
    }

    /**
     * The state was rolled back or replaced (truncation, snapshot install): end every stream with
     * ABORTED, since what they carried may no longer hold, and go on from {@code applied}.
     */
    public synchronized void reset(LogPosition applied, EpochHistory nowHistory, String why) {
        position = applied;
        history = nowHistory;
        endAll(Status.ABORTED.withDescription(why + "; read the changes again from " + applied), EndReason.RESET);
    }

    @Override
    public synchronized void close() {
        endAll(Status.UNAVAILABLE.withDescription("replica shutting down"), EndReason.SHUTDOWN);
        sender.shutdown();
    }

    private void endAll(Status status, EndReason reason) {
        for (Subscription s : subscribers) {
            s.end(status, reason);
        }
        subscribers = List.of();
    }

    private ChangeEvent.Builder event(LogPosition applied, boolean withHistory) {
        ChangeEvent.Builder b = ChangeEvent.newBuilder().setReplicaId(replicaId).setApplied(applied.toProto());
        if (withHistory) {
            b.addAllHistory(history.toProto());
        }
        return b;
    }

    private void queueAll(ChangeEvent e, long nowMs) {
        for (Subscription s : subscribers) {
            s.lastQueuedMs = nowMs;
            s.queue(e);
        }
    }

    private synchronized void remove(Subscription s) {
        if (subscribers.contains(s)) {
            List<Subscription> next = new ArrayList<>(subscribers);
            next.remove(s);
            subscribers = List.copyOf(next);
        }
    }

    /** One stream: its queue of events not yet written, and how many bytes they hold. */
    public final class Subscription {
        private final Sink sink;
        private final long heartbeatMs;
        private final Queue<ChangeEvent> pending = new ConcurrentLinkedQueue<>();
        private final AtomicLong pendingBytes = new AtomicLong();
        /** Guarded by the feed's lock. */
        private long lastQueuedMs;
        private volatile Status endStatus;
        /** Sender thread only. */
        private boolean ended;

        private Subscription(Sink sink, long heartbeatMs) {
            this.sink = sink;
            this.heartbeatMs = heartbeatMs;
        }

        private void queue(ChangeEvent e) {
            if (endStatus != null) {
                return;
            }
            if (pendingBytes.addAndGet(e.getSerializedSize()) > maxPendingBytes) {
                remove(this);
                end(Status.RESOURCE_EXHAUSTED.withDescription("the reader is more than " + maxPendingBytes
                        + " bytes of changes behind (tandem.replica.change-feed.max-pending-bytes)"), EndReason.BEHIND);
                return;
            }
            pending.add(e);
            drain();
        }

        private void end(Status status, EndReason reason) {
            if (endStatus != null) {
                return;
            }
            endStatus = status;
            pending.clear();
            onEnd.accept(reason);
            drain();
        }

        /** Writes what the stream takes now; the stream's on-ready handler calls it again. */
        public void drain() {
            try {
                sender.execute(this::drainNow);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // Shutting down: the stream ends with the server.
            }
        }

        /** The reader cancelled the stream. */
        public void cancelled() {
            remove(this);
            if (endStatus == null) {
                endStatus = Status.CANCELLED;
                pending.clear();
                onEnd.accept(EndReason.CANCELLED);
            }
        }

        private void drainNow() {
            if (ended) {
                return;
            }
            Status st = endStatus;
            if (st != null) {
                ended = true;
                if (st.getCode() != Status.Code.CANCELLED) {
                    sink.end(st);
                }
                return;
            }
            ChangeEvent e;
            while (sink.isReady() && (e = pending.poll()) != null) {
                pendingBytes.addAndGet(-e.getSerializedSize());
                sink.send(e);
            }
        }
    }
}
