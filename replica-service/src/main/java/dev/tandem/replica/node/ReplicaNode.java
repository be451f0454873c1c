package dev.tandem.replica.node;

import com.google.protobuf.ByteString;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.Ack;
import dev.tandem.proto.AppendEntries;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowerMessage;
import dev.tandem.proto.Heartbeat;
import dev.tandem.proto.LeaderMessage;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Member;
import dev.tandem.proto.OpResult;
import dev.tandem.proto.SnapshotRequired;
import dev.tandem.proto.Subscribe;
import dev.tandem.proto.Truncate;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.replica.config.ReplicaSettings;
import dev.tandem.replica.core.AppendDecision;
import dev.tandem.replica.core.CommandResult;
import dev.tandem.replica.core.Completion;
import dev.tandem.replica.core.CoreStatus;
import dev.tandem.replica.core.DurableMeta;
import dev.tandem.replica.core.ReplicaCore;
import dev.tandem.replica.core.Role;
import dev.tandem.replica.core.ShipWindow;
import dev.tandem.replica.core.SubscribeDecision;
import dev.tandem.replica.kv.ConditionResolver;
import dev.tandem.replica.kv.IdempotencyWindow;
import dev.tandem.replica.storage.ReplicaStore;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The driver: one thread owns the {@link ReplicaCore}, the storage writer and every replication
 * stream. Everything else (gRPC handlers, the follower's stream callbacks, admin commands, the
 * snapshot fetcher) only puts events into a bounded inbox and waits on a callback.
 *
 * <p>One turn: drain the inbox; handle each event (a leader assigns positions and stages entries
 * into the pending batch; a follower stages what its leader sent); ship to followers (a leader may
 * ship before its own fsync, counting itself only after {@link ReplicaCore#onLocalFlush}); hand
 * the pending batch to the syncer thread, which writes it with one fsync (group commit: every
 * write that arrived meanwhile shares it) while the driver goes on; when the syncer reports, tell
 * the core, complete clients, and (a follower) acknowledge what it flushed. One batch is written
 * at a time, in order; the next grows behind it. Persist, send, then complete, as etcd raft's
 * contract says.
 */
public final class ReplicaNode implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ReplicaNode.class);

    /** The driver wakes at least this often for ticks (deadlines, lease, heartbeats), in ms. */
    static final long TICK_MS = 10;
    /** Most events handled in one turn, which also bounds one group-commit batch. */
    static final int MAX_EVENTS_PER_TURN = 4096;
    /** Entries kept in memory for shipping, newest first evicted last. */
    static final int RECENT_ENTRIES = 50_000;
    /** A follower whose stream broke waits this long before subscribing again, in ms; doubled per failure. */
    static final long RECONNECT_BACKOFF_MS = 100;
    /** Longest wait between subscribe attempts, in ms. */
    static final long RECONNECT_BACKOFF_MAX_MS = 2000;
    /** How often log retention is checked, in ms. */
    static final long RETENTION_CHECK_MS = 1000;

    // ---- events ------------------------------------------------------------------------------

    public sealed interface Event {}

    /**
     * A validated client write; {@code fingerprint} is its {@link dev.tandem.replica.kv.RequestFingerprint},
     * computed by the handler so that hashing large batches does not hold up the driver thread.
     */
    public record ClientWrite(WriteRequest request, ByteString fingerprint, long receivedNanos,
                              Consumer<WriteResponse> reply) implements Event {}

    public record SubscribeEv(LeaderStream stream, Subscribe subscribe) implements Event {}

    public record AckEv(LeaderStream stream, Ack ack) implements Event {}

    public record StreamClosed(LeaderStream stream) implements Event {}

    record FromLeader(LeaderLink link, LeaderMessage message) implements Event {}

    record LinkClosed(LeaderLink link, Throwable cause) implements Event {}

    record Command(java.util.function.Supplier<Object> action, CompletableFuture<Object> result) implements Event {}

    record SnapshotFetched(LeaderLink link, Path dir, LogPosition applied, EpochHistory history, Throwable failure) implements Event {}

    /** The syncer thread wrote {@code batch} (taking {@code nanos}), or failed with {@code failure}. */
    record Flushed(ReplicaStore.Batch batch, long nanos, Throwable failure) implements Event {}

    /** A client write waiting for its concern. */
    record PendingWrite(Consumer<WriteResponse> reply, List<OpResult> results, WriteConcern concern,
                        long receivedNanos, boolean replayed) {}

    public record CommandOutcome(ErrorCode code, String reason, LogPosition last) {}

    public record SnapshotTaken(Path dir, LogPosition applied, EpochHistory history) {}

    // ---- state owned by the driver thread -----------------------------------------------------

    private final ReplicaSettings settings;
    private final Clock clock;
    private final BlockingQueue<Event> inbox;
    private final ReplicaStore store;
    private final ReplicaCore<PendingWrite> core;
    private final IdempotencyWindow idempotency;
    private final TreeMap<Long, LogEntry> recent = new TreeMap<>();
    private final Map<String, LeaderStream> streams = new HashMap<>();
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final AppliedWatch appliedWatch;
    private final ChangeFeed changeFeed;
    private ReplicaMetrics metrics;
    private ReplicaStore.Batch batch;
    /** The batch the syncer thread is writing, or null; {@link #batch} stages behind it. */
    private ReplicaStore.Batch syncing;
    private CompletableFuture<Flushed> syncDone;
    /** Writes and fsyncs batches, one at a time and in order (see {@link #startFlush}). */
    private final ExecutorService syncer = Executors.newSingleThreadExecutor(r -> new Thread(r, "tandem-fsync"));
    private LeaderLink link;
    private long reconnectAtMs = Long.MAX_VALUE;
    private boolean snapshotInProgress;
    /** Subscribe attempts since the stream last delivered a message (backoff and log throttling). */
    private int failedConnects;
    private long receivedLsn;
    private long rolledBack;
    private long lastTickMs;
    private long lastRetentionMs;
    private long lastPublishMs;
    private String failoverId = "";
    private volatile NodeView view;
    private volatile boolean running = true;
    private final Thread thread;

    public ReplicaNode(ReplicaSettings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.inbox = new ArrayBlockingQueue<>(settings.inboxCapacity());
        this.store = ReplicaStore.open(settings.dataDir());
        this.idempotency = new IdempotencyWindow(settings.idempotencyWindowEntries(), settings.idempotencyWindowMs());
        this.core = new ReplicaCore<>(settings.id(), settings.coreConfig(), store.meta(), store.last(), store.logStartLsn());
        this.receivedLsn = store.last().lsn();
        this.rolledBack = store.rollbackFiles().countEntries();
        rebuildIdempotencyWindow();
        this.appliedWatch = new AppliedWatch(() -> new AppliedWatch.Applied(store.meta().history(), store.applied().lsn()));
        this.changeFeed = new ChangeFeed(settings.id(), settings.changeFeedMaxPendingBytes(), settings.changeFeedMaxSubscribers(),
                settings.changeFeedHeartbeatMs(), store.applied(), store.meta().history(),
                reason -> { if (metrics != null) { metrics.changeStreamEnded(reason); } });
        publish(clock.millis());
        LOG.infof("replica %s opened %s: epoch %d, role %s, last %s, log starts at %d, history %s",
                settings.id(), settings.dataDir(), core.epoch(), core.role(), store.last(), store.logStartLsn(),
                store.meta().history());
        this.thread = new Thread(this::run, "tandem-driver");
    }

    public void start(ReplicaMetrics metrics) {
        this.metrics = metrics;
        if (core.role() == Role.FOLLOWER) {
            reconnectAtMs = 0;
        }
        thread.start();
    }

    public ReplicaSettings settings() {
        return settings;
    }

    public ReplicaStore store() {
        return store;
    }

    public NodeView view() {
        return view;
    }

    public AppliedWatch appliedWatch() {
        return appliedWatch;
    }

    public ChangeFeed changeFeed() {
        return changeFeed;
    }

    public long nowMs() {
        return clock.millis();
    }

    /** Hands an event to the driver; false when the inbox is full (the caller answers UNAVAILABLE). */
    public boolean offer(Event e) {
        return running && inbox.offer(e);
    }

    /** Runs {@code action} on the driver thread (it may touch the core and the store). */
    @SuppressWarnings("unchecked")
    public <T> CompletableFuture<T> call(java.util.function.Supplier<T> action) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        if (!offer(new Command((java.util.function.Supplier<Object>) action, f))) {
            f.completeExceptionally(new IllegalStateException("replica busy or shutting down"));
        }
        return (CompletableFuture<T>) (CompletableFuture<?>) f;
    }

    // ---- the loop ----------------------------------------------------------------------------

    private void run() {
        List<Event> events = new ArrayList<>(MAX_EVENTS_PER_TURN);
        while (running) {
            try {
                Event first = inbox.poll(TICK_MS, TimeUnit.MILLISECONDS);
                events.clear();
                if (first != null) {
                    events.add(first);
                    inbox.drainTo(events, MAX_EVENTS_PER_TURN - 1);
                }
                long now = clock.millis();
                for (Event e : events) {
                    handle(now, e);
                }
                if (now - lastTickMs >= TICK_MS) {
                    tick(now);
                }
                // Entries go out when the batch holding them starts its fsync here: a follower then
                // gets one message, and does one fsync, per leader batch, in parallel with ours.
                // While a batch is being written, only heartbeats.
                ship(now, syncing == null);
                startFlush();
                if (now - lastPublishMs >= 5 || first instanceof Command) {
                    publish(now);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Throwable t) {
                // An exception here means an invariant broke (or the disk failed) with the state
                // half-handled: continuing could acknowledge what is not durable. Stop the process
                // and let the supervisor restart it from disk.
                LOG.fatalf(t, "replica %s driver failed at epoch %d, last %s; halting", settings.id(), core.epoch(), store.last());
                Runtime.getRuntime().halt(70);
            }
        }
    }

    private void handle(long now, Event e) {
        if (e instanceof ClientWrite w) {
            onClientWrite(now, w);
        } else if (e instanceof SubscribeEv s) {
            onSubscribe(now, s);
        } else if (e instanceof AckEv a) {
            onAck(now, a);
        } else if (e instanceof StreamClosed c) {
            onStreamClosed(c.stream());
        } else if (e instanceof FromLeader f) {
            onFromLeader(now, f);
        } else if (e instanceof LinkClosed c) {
            onLinkClosed(now, c);
        } else if (e instanceof Command c) {
            try {
                c.result().complete(c.action().get());
            } catch (RuntimeException ex) {
                c.result().completeExceptionally(ex);
                if (ex instanceof IllegalStateException) {
                    throw ex;
                }
            }
        } else if (e instanceof SnapshotFetched s) {
            onSnapshotFetched(now, s);
        } else if (e instanceof Flushed f) {
            onFlushed(now, f);
        }
    }

    private ReplicaStore.Batch batch() {
        if (batch == null) {
            batch = store.newBatchAfter(syncing);
        }
        return batch;
    }

    /** Position of the last entry staged, being written, or stored. */
    private long stagedLastLsn() {
        if (batch != null && batch.lastAppended() != null) {
            return batch.lastAppended().lsn();
        }
        return syncing != null && syncing.lastAppended() != null ? syncing.lastAppended().lsn() : store.last().lsn();
    }

    // ---- leader: writes ----------------------------------------------------------------------

    private void onClientWrite(long now, ClientWrite w) {
        WriteRequest req = w.request();
        WriteConcern concern = req.getWriteConcern() == WriteConcern.WRITE_CONCERN_DEFAULT
                ? settings.defaultWriteConcern() : req.getWriteConcern();
        ErrorCode admit = core.admitWrite(now);
        if (admit != ErrorCode.OK) {
            if (view.status().acceptingWrites()) {
                // The view (status, readiness) is published every few ms; one who was just refused
                // must not then read it still saying this leader accepts writes.
                publish(now);
            }
            Error.Builder err = Error.newBuilder().setCode(admit).setOpIndex(-1);
            if (admit == ErrorCode.NOT_LEADER) {
                String leader = core.meta().leaderId();
                err.setMessage(core.role() == Role.LEADER ? "this leader is stepping down" : "writes go to the leader")
                        .setLeaderId(leader).setLeaderAddress(store.addresses().getOrDefault(leader, ""));
            } else if (admit == ErrorCode.LEASE_EXPIRED) {
                err.setMessage("leader has not heard from enough followers for write concern "
                        + dev.tandem.common.WriteConcerns.name(settings.minWriteConcern()) + " within " + settings.leaseMs() + " ms");
            } else {
                err.setMessage("write refused: " + admit);
            }
            reject(w, concern, err.build());
            return;
        }
        long timeoutMs = req.getConfirmTimeoutMs() > 0 ? req.getConfirmTimeoutMs() : settings.confirmTimeoutMs();
        long deadline = now + timeoutMs;
        var earlier = idempotency.lookup(req.getRequestId(), now);
        if (earlier.isPresent()) {
            LogPosition original = earlier.get().position();
            if (!earlier.get().isRetryOf(w.fingerprint())) {
                // Replaying would report another write's outcome for one that never happens.
                reject(w, concern, Error.newBuilder().setCode(ErrorCode.IDEMPOTENCY_KEY_REUSED).setOpIndex(-1)
                        .setMessage("request id '" + req.getRequestId() + "' was already used, at " + original
                                + ", for a write with other operations; nothing was written. A retry must repeat"
                                + " the original request exactly; a new write needs a new request id").build());
                return;
            }
            core.awaitConcern(original, concern, deadline,
                    new PendingWrite(w.reply(), originalResults(original), concern, w.receivedNanos(), true));
            return;
        }
        ReplicaStore.Batch b = batch();
        ConditionResolver.Resolution r = ConditionResolver.resolve(req, b::current);
        if (r instanceof ConditionResolver.Failed f) {
            reject(w, concern, f.error().toProto());
            return;
        }
        ConditionResolver.Resolved ok = (ConditionResolver.Resolved) r;
        LogPosition pos = core.assignNext(now);
        LogEntry.Builder eb = LogEntry.newBuilder().setEpoch(pos.epoch()).setLsn(pos.lsn()).setTimestampMs(now)
                .setRequestId(req.getRequestId()).addAllMutations(ok.mutations());
        if (!req.getRequestId().isEmpty()) {
            // What a retry is compared with and answered with, on whichever replica gets it.
            eb.setRequestFingerprint(w.fingerprint()).addAllResults(ok.results());
        }
        LogEntry entry = eb.build();
        b.append(entry);
        remember(entry);
        idempotency.record(req.getRequestId(), pos, now, w.fingerprint());
        receivedLsn = pos.lsn();
        core.awaitConcern(pos, concern, deadline, new PendingWrite(w.reply(), ok.results(), concern, w.receivedNanos(), false));
    }

    /**
     * The results the write at {@code original} answered with: from the entry kept for shipping
     * (it may not be committed yet), else from the store. Empty for a write logged before entries
     * carried results; the answer then has none, as every replay had before.
     */
    private List<OpResult> originalResults(LogPosition original) {
        LogEntry kept = recent.get(original.lsn());
        if (kept != null && kept.getEpoch() == original.epoch()) {
            return kept.getResultsList();
        }
        return store.originalResults(original).orElse(List.of());
    }

    private void reject(ClientWrite w, WriteConcern concern, Error error) {
        metrics.write(concern, "rejected", -1);
        w.reply().accept(WriteResponse.newBuilder().setError(error).setServedBy(settings.id()).build());
    }

    private void complete(List<Completion<PendingWrite>> done) {
        long nowNanos = System.nanoTime();
        for (Completion<PendingWrite> c : done) {
            PendingWrite p = c.waiter();
            WriteResponse.Builder resp = WriteResponse.newBuilder().setPosition(c.position().toProto())
                    .setReplayed(p.replayed()).setServedBy(settings.id());
            if (c.code() == ErrorCode.OK) {
                resp.addAllResults(p.results());
                metrics.write(p.concern(), "ok", nowNanos - p.receivedNanos());
            } else {
                resp.setError(Error.newBuilder().setCode(c.code()).setOpIndex(-1).setPosition(c.position().toProto())
                        .setMessage(c.code() == ErrorCode.NOT_CONFIRMED
                                ? "durable on the leader at " + c.position() + ", not yet confirmed for write concern "
                                        + dev.tandem.common.WriteConcerns.name(p.concern()) + (c.reason() == null ? "" : ": " + c.reason())
                                : String.valueOf(c.reason())));
                metrics.write(p.concern(), c.code() == ErrorCode.NOT_CONFIRMED ? "not_confirmed" : "rejected", nowNanos - p.receivedNanos());
            }
            try {
                p.reply().accept(resp.build());
            } catch (RuntimeException ex) {
                LOG.debugf(ex, "client gone before its answer");
            }
        }
    }

    private void remember(LogEntry e) {
        recent.put(e.getLsn(), e);
        while (recent.size() > RECENT_ENTRIES) {
            recent.pollFirstEntry();
        }
    }

    // ---- leader: shipping --------------------------------------------------------------------

    private void onSubscribe(long now, SubscribeEv s) {
        Subscribe sub = s.subscribe();
        String fid = sub.getFollowerId();
        if (fid.isEmpty() || fid.equals(settings.id())) {
            s.stream().send(LeaderMessage.newBuilder().setError(Error.newBuilder().setCode(ErrorCode.INVALID_ARGUMENT)
                    .setMessage("subscribe needs a follower id other than the leader's").setOpIndex(-1)).build());
            s.stream().close();
            return;
        }
        LeaderStream old = streams.remove(fid);
        if (old != null) {
            old.close();
            core.onFollowerDisconnected(fid);
        }
        s.stream().followerId = fid;
        EpochHistory fh;
        LogPosition followerLast;
        try {
            fh = EpochHistory.fromProto(sub.getHistoryList());
            followerLast = LogPosition.of(sub.getLast());
            if (sub.getEpoch() < 0) {
                throw new IllegalArgumentException("epoch out of range");
            }
        } catch (IllegalArgumentException ex) {
            s.stream().send(LeaderMessage.newBuilder().setError(Error.newBuilder().setCode(ErrorCode.INVALID_ARGUMENT)
                    .setMessage("malformed epoch history: " + ex.getMessage()).setOpIndex(-1)).build());
            s.stream().close();
            return;
        }
        SubscribeDecision d = core.onSubscribe(now, fid, sub.getEpoch(), followerLast, fh);
        if (d instanceof SubscribeDecision.Stream st) {
                streams.put(fid, s.stream());
                LOG.infof("epoch %d: %s subscribed at %s, shipping from lsn %d", core.epoch(), fid, LogPosition.of(sub.getLast()), st.fromLsn());
        } else if (d instanceof SubscribeDecision.Truncate t) {
                streams.put(fid, s.stream());
                LOG.infof("epoch %d: %s subscribed at %s with entries we do not hold; truncate after %d",
                        core.epoch(), fid, LogPosition.of(sub.getLast()), t.toLsn());
                s.stream().send(LeaderMessage.newBuilder().setTruncate(Truncate.newBuilder().setEpoch(core.epoch())
                        .setToLsn(t.toLsn()).addAllHistory(core.meta().history().toProto())).build());
        } else if (d instanceof SubscribeDecision.Snapshot sn) {
                LOG.infof("epoch %d: %s at %s is behind the retained log (starts %d): snapshot required",
                        core.epoch(), fid, LogPosition.of(sub.getLast()), sn.logStartLsn());
                s.stream().send(LeaderMessage.newBuilder().setSnapshotRequired(SnapshotRequired.newBuilder()
                        .setEpoch(core.epoch()).setLogStartLsn(sn.logStartLsn())).build());
                s.stream().close();
                core.onFollowerDisconnected(fid);
        } else if (d instanceof SubscribeDecision.Reject rj) {
                s.stream().send(LeaderMessage.newBuilder().setError(Error.newBuilder().setCode(rj.code())
                        .setMessage(rj.reason()).setOpIndex(-1).setLeaderId(core.meta().leaderId())).build());
                s.stream().close();
        }
        if (metrics != null) {
            metrics.followerSeen(fid);
        }
    }

    private void onAck(long now, AckEv a) {
        LeaderStream s = a.stream();
        if (s.followerId == null || streams.get(s.followerId) != s) {
            return;
        }
        Ack ack = a.ack();
        complete(core.onAck(now, s.followerId, ack.getEpoch(), ack.getFlushedLsn(), ack.getAppliedLsn()));
    }

    private void onStreamClosed(LeaderStream s) {
        s.closed = true;
        if (s.followerId != null && streams.get(s.followerId) == s) {
            streams.remove(s.followerId);
            core.onFollowerDisconnected(s.followerId);
            LOG.infof("epoch %d: stream of %s closed", core.epoch(), s.followerId);
        }
    }

    private void ship(long now, boolean withEntries) {
        if (streams.isEmpty()) {
            return;
        }
        if (core.role() != Role.LEADER) {
            for (LeaderStream s : streams.values()) {
                s.close();
                core.onFollowerDisconnected(s.followerId);
            }
            streams.clear();
            return;
        }
        for (LeaderStream s : streams.values()) {
            String fid = s.followerId;
            for (int round = 0; withEntries && round < 8; round++) {
                ShipWindow w = core.shipWindow(fid);
                if (w.isEmpty()) {
                    break;
                }
                List<LogEntry> entries = entriesFor(w.fromLsn(), w.toLsn(), w.maxBytes());
                if (entries.isEmpty()) {
                    break;
                }
                long bytes = 0;
                for (LogEntry e : entries) {
                    bytes += e.getSerializedSize();
                }
                long lastLsn = entries.get(entries.size() - 1).getLsn();
                s.send(LeaderMessage.newBuilder().setAppend(AppendEntries.newBuilder().setEpoch(core.epoch())
                        .setPrev(positionOf(w.fromLsn() - 1).toProto()).addAllEntries(entries).setLeaderTimeMs(now)
                        .addAllHistory(core.meta().history().toProto())).build());
                core.onShipped(now, fid, lastLsn, bytes);
            }
            if (core.heartbeatDue(now, fid)) {
                s.send(LeaderMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setEpoch(core.epoch())
                        .setLeaderLast(core.last().toProto()).setLeaderTimeMs(now)).build());
                core.onHeartbeatSent(now, fid);
            }
        }
    }

    private LogPosition positionOf(long lsn) {
        if (lsn <= 0) {
            return LogPosition.ZERO;
        }
        LogEntry e = recent.get(lsn);
        if (e != null) {
            return new LogPosition(e.getEpoch(), e.getLsn());
        }
        return store.readEntry(lsn).map(x -> new LogPosition(x.getEpoch(), x.getLsn()))
                .orElseGet(() -> core.meta().history().positionOf(lsn));
    }

    private List<LogEntry> entriesFor(long from, long to, long maxBytes) {
        List<LogEntry> out = new ArrayList<>();
        long bytes = 0;
        if (recent.isEmpty() || recent.firstKey() > from) {
            // Older than the in-memory window: those entries are committed, read them from disk.
            long upTo = recent.isEmpty() ? to : Math.min(to, recent.firstKey() - 1);
            out.addAll(store.readEntries(from, upTo, maxBytes));
            for (LogEntry e : out) {
                bytes += e.getSerializedSize();
            }
            if (out.isEmpty() || out.get(out.size() - 1).getLsn() < upTo) {
                return out;
            }
            from = out.get(out.size() - 1).getLsn() + 1;
            if (from > to || recent.isEmpty()) {
                return out;
            }
        }
        for (LogEntry e : recent.subMap(from, true, to, true).values()) {
            int size = e.getSerializedSize();
            if (!out.isEmpty() && bytes + size > maxBytes) {
                break;
            }
            out.add(e);
            bytes += size;
        }
        return out;
    }

    // ---- follower ----------------------------------------------------------------------------

    private void connect(long now) {
        reconnectAtMs = Long.MAX_VALUE;
        if (core.role() != Role.FOLLOWER || snapshotInProgress) {
            return;
        }
        String leaderId = core.meta().leaderId();
        String address = store.addresses().get(leaderId);
        if (address == null || address.isEmpty()) {
            LOG.warnf("epoch %d: follower of %s without a known address; waiting for a Follow command", core.epoch(), leaderId);
            return;
        }
        if (link != null) {
            link.close();
        }
        LeaderLink l = new LeaderLink(leaderId, address, core.epoch());
        link = l;
        l.open(channel(address), settings.secret(),
                m -> enqueueFromStream(new FromLeader(l, m)),
                t -> enqueueFromStream(new LinkClosed(l, t)));
        l.send(FollowerMessage.newBuilder().setSubscribe(Subscribe.newBuilder().setFollowerId(settings.id())
                .setEpoch(core.epoch()).setLast(store.last().toProto()).addAllHistory(store.meta().history().toProto())).build());
        if (failedConnects == 0) {
            LOG.infof("epoch %d: subscribing to %s at %s from %s", core.epoch(), leaderId, address, store.last());
        }
    }

    /** Stream callbacks must not be lost to a full inbox: they block briefly instead (gRPC applies backpressure). */
    private void enqueueFromStream(Event e) {
        try {
            while (running && !inbox.offer(e, 100, TimeUnit.MILLISECONDS)) {
                // keep trying: dropping a stream event would desynchronise the follower
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private ManagedChannel channel(String address) {
        // directExecutor: the stream's callbacks only put an event in the inbox, so they run on the
        // transport thread that read the message; a hand-off to gRPC's default executor per leader
        // batch cost a thread wake-up and about 5% of a follower's CPU. When the inbox is full the
        // callback waits there (enqueueFromStream), which stops reading from the leader: the
        // back-pressure intended, and nothing the driver needs runs on that thread.
        ManagedChannel ch = channels.computeIfAbsent(address, a -> ManagedChannelBuilder.forTarget(a).usePlaintext()
                .maxInboundMessageSize((int) Math.min(Integer.MAX_VALUE, settings.maxInFlightBytes() + settings.maxBatchBytes() + (1 << 20)))
                .directExecutor()
                .build());
        // gRPC's own reconnect back-off grows to two minutes while the leader was down; our
        // reconnect schedule (RECONNECT_BACKOFF_*) is the one that should apply.
        if (ch.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            ch.resetConnectBackoff();
        }
        return ch;
    }

    private void dropLink(long now, String why) {
        if (link != null) {
            if (failedConnects == 0) {
                LOG.infof("epoch %d: leaving stream to %s: %s", core.epoch(), link.leaderId, why);
            } else {
                LOG.debugf("epoch %d: stream to %s failed again (%d): %s", core.epoch(), link.leaderId, failedConnects, why);
            }
            link.close();
            link = null;
            core.onStreamState(now, false);
        }
        reconnectAtMs = now + Math.min(RECONNECT_BACKOFF_MAX_MS, RECONNECT_BACKOFF_MS << Math.min(failedConnects, 5));
        failedConnects++;
    }

    private void onLinkClosed(long now, LinkClosed c) {
        if (c.link() != link) {
            return;
        }
        dropLink(now, c.cause() == null ? "leader closed the stream" : String.valueOf(c.cause().getMessage()));
    }

    private void onFromLeader(long now, FromLeader f) {
        if (f.link() != link || link.isClosed()) {
            return;
        }
        LeaderMessage m = f.message();
        if (!link.streaming && (m.hasAppend() || m.hasHeartbeat() || m.hasTruncate())) {
            link.streaming = true;
            failedConnects = 0;
            core.onStreamState(now, true);
        }
        try {
            onLeaderMessage(now, m);
        } catch (IllegalArgumentException malformed) {
            // A malformed history or position from the leader is its bug, not ours: refuse the
            // stream rather than let it stop this replica.
            dropLink(now, "malformed message from the leader: " + malformed.getMessage());
        }
    }

    private void onLeaderMessage(long now, LeaderMessage m) {
        switch (m.getKindCase()) {
            case APPEND -> {
                AppendEntries a = m.getAppend();
                LogPosition prev = LogPosition.of(a.getPrev());
                LogPosition lastOfBatch = a.getEntriesCount() == 0 ? prev
                        : new LogPosition(a.getEntries(a.getEntriesCount() - 1).getEpoch(), a.getEntries(a.getEntriesCount() - 1).getLsn());
                AppendDecision d = core.onAppend(now, a.getEpoch(), prev, lastOfBatch, EpochHistory.fromProto(a.getHistoryList()));
                if (d instanceof AppendDecision.Accept acc) {
                    accept(now, acc, a.getEntriesList());
                    receivedLsn = Math.max(receivedLsn, lastOfBatch.lsn());
                } else if (d instanceof AppendDecision.Reject rj) {
                    dropLink(now, "append rejected: " + rj.code() + " " + rj.reason());
                }
            }
            case TRUNCATE -> {
                Truncate t = m.getTruncate();
                AppendDecision d = core.onTruncate(now, t.getEpoch(), t.getToLsn(), EpochHistory.fromProto(t.getHistoryList()));
                if (d instanceof AppendDecision.Accept acc) {
                    accept(now, acc, List.of());
                } else if (d instanceof AppendDecision.Reject rj) {
                    dropLink(now, "truncate rejected: " + rj.code() + " " + rj.reason());
                }
            }
            case HEARTBEAT -> {
                Heartbeat h = m.getHeartbeat();
                core.onHeartbeat(now, h.getEpoch(), LogPosition.of(h.getLeaderLast()));
                // Answer every heartbeat: the leader's lease counts followers it has heard from.
                sendAck();
            }
            case SNAPSHOT_REQUIRED -> startSnapshotFetch(now, m.getSnapshotRequired());
            case ERROR -> dropLink(now, "leader refused: " + m.getError().getCode() + " " + m.getError().getMessage());
            default -> dropLink(now, "unexpected message " + m.getKindCase());
        }
    }

    private void accept(long now, AppendDecision.Accept acc, List<LogEntry> entries) {
        if (acc.truncateAfterLsn() >= 0 && acc.truncateAfterLsn() < stagedLastLsn()) {
            flushNow(now);
            truncate(now, acc.truncateAfterLsn(), acc.meta());
        }
        ReplicaStore.Batch b = batch();
        b.setMeta(acc.meta());
        for (LogEntry e : entries) {
            long staged = stagedLastLsn();
            if (e.getLsn() <= staged) {
                // Already here (re-sent after a reconnect); the core checked that our logs agree at prev.
                continue;
            }
            b.append(e);
            remember(e);
            idempotency.record(e.getRequestId(), new LogPosition(e.getEpoch(), e.getLsn()), e.getTimestampMs(), e.getRequestFingerprint());
        }
    }

    private void truncate(long now, long toLsn, DurableMeta meta) {
        ReplicaStore.Truncation t = store.truncateAfter(toLsn, meta, now);
        recent.tailMap(toLsn, false).clear();
        idempotency.truncateAfter(toLsn);
        receivedLsn = Math.min(receivedLsn, toLsn);
        rolledBack += t.removed().size();
        if (metrics != null) {
            metrics.rolledBack(t.removed().size());
        }
        LOG.warnf("epoch %d: truncated the log after lsn %d: %d entries (lsn %s) rolled back to %s",
                meta.epoch(), toLsn, t.removed().size(),
                t.removed().isEmpty() ? "-" : t.removed().get(0).getLsn() + ".." + t.removed().get(t.removed().size() - 1).getLsn(),
                t.rollbackFile());
        changeFeed.reset(store.applied(), store.meta().history(), "the log was truncated after lsn " + toLsn);
        appliedWatch.check();
    }

    private void sendAck() {
        if (link == null) {
            return;
        }
        long flushed = store.last().lsn();
        link.send(FollowerMessage.newBuilder().setAck(Ack.newBuilder().setEpoch(core.epoch())
                .setReceivedLsn(Math.max(receivedLsn, flushed)).setFlushedLsn(flushed).setAppliedLsn(store.applied().lsn())).build());
    }

    // ---- snapshots ---------------------------------------------------------------------------

    private void startSnapshotFetch(long now, SnapshotRequired req) {
        if (snapshotInProgress) {
            return;
        }
        snapshotInProgress = true;
        LeaderLink l = link;
        l.close();
        core.onStreamState(now, false);
        LOG.infof("epoch %d: leader %s needs us to install a snapshot (its log starts at %d)", core.epoch(), l.leaderId, req.getLogStartLsn());
        ManagedChannel ch = channel(l.address);
        Path dir = settings.dataDir().resolve("incoming-" + now);
        Thread fetcher = new Thread(() -> {
            try {
                SnapshotFetcher.Result r = SnapshotFetcher.fetch(ch, settings.secret(), settings.id(), l.epoch, dir);
                enqueueFromStream(new SnapshotFetched(l, dir, r.applied(), r.history(), null));
            } catch (RuntimeException ex) {
                enqueueFromStream(new SnapshotFetched(l, dir, null, null, ex));
            }
        }, "tandem-snapshot-fetch");
        fetcher.setDaemon(true);
        fetcher.start();
    }

    private void onSnapshotFetched(long now, SnapshotFetched s) {
        snapshotInProgress = false;
        link = null;
        if (s.failure() != null) {
            LOG.warnf(s.failure(), "epoch %d: snapshot fetch from %s failed; retrying", core.epoch(), s.link().leaderId);
            try {
                ReplicaStore.deleteTree(s.dir());
            } catch (java.io.IOException ignored) {
                // a leftover incoming directory is harmless; the next fetch uses a new name
            }
            reconnectAtMs = now + RECONNECT_BACKOFF_MS * 10;
            return;
        }
        flushNow(now);
        DurableMeta meta = core.onSnapshotInstalled(s.applied(), s.history());
        store.installSnapshot(s.dir(), s.applied(), meta, store.addresses());
        recent.clear();
        // The installed store has no log before the snapshot point, but carries the leader's
        // request-id records: without them a promotion soon after would apply a retry twice.
        rebuildIdempotencyWindow();
        receivedLsn = s.applied().lsn();
        if (metrics != null) {
            metrics.snapshotInstalled();
        }
        LOG.infof("epoch %d: installed snapshot at %s from %s", core.epoch(), s.applied(), s.link().leaderId);
        changeFeed.reset(store.applied(), store.meta().history(), "a snapshot replaced the state");
        appliedWatch.check();
        reconnectAtMs = now;
    }

    /** Leader: a consistent checkpoint for a follower's FetchSnapshot (runs on the driver thread). */
    public CompletableFuture<SnapshotTaken> takeSnapshot() {
        return call(() -> {
            flushNow(clock.millis());
            Path dir = settings.dataDir().resolve("snapshots").resolve("snap-" + System.nanoTime());
            LogPosition at = store.checkpoint(dir);
            if (metrics != null) {
                metrics.snapshotSent();
            }
            return new SnapshotTaken(dir, at, store.meta().history());
        });
    }

    // ---- persist, tick, publish --------------------------------------------------------------

    /**
     * Starts writing the staged batch (one synced RocksDB write) on the syncer thread, unless a
     * batch is being written already: then this one keeps growing behind it and goes next.
     *
     * <p>Why not on the driver: while a synced write takes its 1-4 ms, the driver keeps taking
     * writes and shipping them, and a follower's acknowledgement completes writes as soon as it
     * arrives rather than after the leader's next fsync. Writes thus wait for about one fsync
     * instead of two or three, and with closed-loop clients each fsync carries more of them.
     */
    private void startFlush() {
        if (syncing != null) {
            return;
        }
        ReplicaStore.Batch b = takeStaged();
        if (b == null) {
            return;
        }
        syncing = b;
        CompletableFuture<Flushed> done = new CompletableFuture<>();
        syncDone = done;
        syncer.execute(() -> {
            Flushed f;
            try {
                f = new Flushed(b, store.commit(b), null);
            } catch (Throwable t) {
                f = new Flushed(b, 0, t);
            }
            done.complete(f);
            enqueueFromStream(f);
        });
    }

    /** The syncer finished {@code f.batch()} (or {@link #flushNow} already handled it). */
    private void onFlushed(long now, Flushed f) {
        if (f.batch() != syncing) {
            return;
        }
        syncing = null;
        if (f.failure() != null) {
            // Unsure what is durable: stop (the run loop halts the process) rather than guess.
            throw new IllegalStateException("synced write failed", f.failure());
        }
        afterCommit(now, f.batch().entries(), f.nanos());
    }

    /**
     * Makes everything staged durable before returning, on this thread: for what writes the store
     * directly or needs it complete (truncation, snapshots, admin commands).
     */
    private void flushNow(long now) {
        if (syncing != null) {
            onFlushed(now, syncDone.join());
        }
        ReplicaStore.Batch b = takeStaged();
        if (b != null) {
            afterCommit(now, b.entries(), store.commit(b));
        }
    }

    /** The staged batch, detached and ready to commit (nothing is in flight before it); null if none. */
    private ReplicaStore.Batch takeStaged() {
        ReplicaStore.Batch b = batch;
        batch = null;
        if (b == null || b.isEmpty()) {
            if (b != null) {
                b.close();
            }
            return null;
        }
        b.predecessorCommitted();
        return b;
    }

    private void afterCommit(long now, List<LogEntry> entries, long nanos) {
        if (metrics != null) {
            metrics.groupCommit(entries.size(), nanos);
        }
        changeFeed.published(entries, store.meta().history(), now);
        if (!entries.isEmpty()) {
            complete(core.onLocalFlush(now, store.last().lsn()));
            appliedWatch.check();
            if (core.role() == Role.FOLLOWER) {
                sendAck();
            }
        }
    }

    private void tick(long now) {
        lastTickMs = now;
        complete(core.onTick(now));
        appliedWatch.expire(now);
        changeFeed.tick(store.meta().history(), now);
        if (now >= reconnectAtMs) {
            connect(now);
        }
        if (now - lastRetentionMs >= RETENTION_CHECK_MS) {
            lastRetentionMs = now;
            idempotency.expire(now);
            long retainFrom = Math.min(core.retainFromLsn(), store.last().lsn() + 1);
            // Compact in steps of at least 1,000 entries: each compaction is a synced write.
            if (retainFrom > store.logStartLsn() + 1000 && batch == null && syncing == null) {
                store.compactBefore(retainFrom);
                core.onLogCompacted(retainFrom);
            }
        }
    }

    private void publish(long now) {
        lastPublishMs = now;
        CoreStatus st = core.status(now);
        LogPosition applied = store.applied();
        view = new NodeView(st, applied, Math.max(receivedLsn, core.flushedLsn()), store.last().lsn(), applied.lsn(),
                store.meta().history(), store.addresses(), rolledBack, now);
    }

    /**
     * Refills the window from the store, on start and after a snapshot install. The store's
     * request-id records cover the window even where the log does not (compacted behind the
     * slowest follower, or absent before a snapshot point); the log is read only below the first
     * record, for entries a store wrote before it kept records. Lsn order, so the window evicts
     * by count as it would have live; entries older than the window's age are skipped.
     */
    private void rebuildIdempotencyWindow() {
        // The store prunes its records by the same bounds the window forgets by. Set here, as
        // this runs before the node's first write.
        store.retainRequestIds(settings.idempotencyWindowEntries(), settings.idempotencyWindowMs());
        idempotency.clear();
        long cutoff = clock.millis() - settings.idempotencyWindowMs();
        List<ReplicaStore.RequestId> kept = store.requestIds();
        long logUntil = kept.isEmpty() ? store.last().lsn() : Math.min(store.last().lsn(), kept.get(0).position().lsn() - 1);
        long from = Math.max(store.logStartLsn(), store.last().lsn() - settings.idempotencyWindowEntries() + 1);
        for (long lsn = Math.max(1, from); lsn <= logUntil; ) {
            List<LogEntry> page = store.readEntries(lsn, logUntil, 8L << 20);
            if (page.isEmpty()) {
                break;
            }
            for (LogEntry e : page) {
                if (e.getTimestampMs() >= cutoff) {
                    idempotency.record(e.getRequestId(), new LogPosition(e.getEpoch(), e.getLsn()), e.getTimestampMs(), e.getRequestFingerprint());
                }
            }
            lsn = page.get(page.size() - 1).getLsn() + 1;
        }
        for (ReplicaStore.RequestId r : kept) {
            if (r.timestampMs() >= cutoff) {
                idempotency.record(r.requestId(), r.position(), r.timestampMs(), r.fingerprint());
            }
        }
    }

    // ---- admin commands (called through call(), on the driver thread) ------------------------

    private Map<String, String> mergeAddresses(List<Member> members) {
        Map<String, String> a = new LinkedHashMap<>(store.addresses());
        for (Member m : members) {
            if (!m.getAddress().isEmpty()) {
                a.put(m.getId(), m.getAddress());
            }
        }
        a.put(settings.id(), settings.advertisedAddress());
        return a;
    }

    private static List<String> ids(List<Member> members) {
        return members.stream().map(Member::getId).toList();
    }

    public CompletableFuture<CommandOutcome> promote(long epoch, List<Member> members, String failoverId) {
        return call(() -> {
            long now = clock.millis();
            flushNow(now);
            List<String> memberIds = new ArrayList<>(ids(members));
            if (!memberIds.contains(settings.id())) {
                memberIds.add(settings.id());
            }
            CommandResult r = core.promote(now, epoch, memberIds);
            return afterCommand(now, "promote", epoch, failoverId, r, mergeAddresses(members));
        });
    }

    public CompletableFuture<CommandOutcome> follow(long epoch, Member leader, List<Member> members, String failoverId) {
        return call(() -> {
            long now = clock.millis();
            flushNow(now);
            List<Member> all = new ArrayList<>(members);
            all.add(leader);
            List<String> memberIds = new ArrayList<>(ids(members));
            if (!memberIds.contains(leader.getId())) {
                memberIds.add(leader.getId());
            }
            if (!memberIds.contains(settings.id())) {
                memberIds.add(settings.id());
            }
            failedConnects = 0;
            boolean sameLeader = link != null && link.leaderId.equals(leader.getId()) && link.epoch == epoch
                    && leader.getAddress().equals(link.address);
            CommandResult r = core.follow(now, epoch, leader.getId(), memberIds);
            CommandOutcome out = afterCommand(now, "follow " + leader.getId(), epoch, failoverId, r, mergeAddresses(all));
            if (r.ok() && !sameLeader) {
                if (link != null) {
                    link.close();
                    link = null;
                    core.onStreamState(now, false);
                }
                connect(now);
            }
            return out;
        });
    }

    public CompletableFuture<CommandOutcome> stepDown(long epoch, String failoverId) {
        return call(() -> {
            long now = clock.millis();
            flushNow(now);
            return afterCommand(now, "step down", epoch, failoverId, core.stepDown(now, epoch), null);
        });
    }

    private CommandOutcome afterCommand(long now, String what, long epoch, String fid, CommandResult r, Map<String, String> addresses) {
        if (fid != null && !fid.isEmpty()) {
            failoverId = fid;
        }
        if (r.metaToPersist() != null) {
            store.persistMeta(r.metaToPersist(), addresses);
        } else if (r.ok() && addresses != null && !addresses.equals(store.addresses())) {
            store.persistMeta(store.meta(), addresses);
        }
        complete(core.drainCompletions());
        if (core.role() == Role.LEADER && link != null) {
            link.close();
            link = null;
        }
        LOG.infof("failover %s: %s (epoch %d) -> %s%s; now %s in epoch %d at %s", failoverId.isEmpty() ? "-" : failoverId,
                what, epoch, r.code(), r.reason() == null || r.reason().isEmpty() ? "" : " (" + r.reason() + ")",
                core.role(), core.epoch(), store.last());
        publish(now);
        return new CommandOutcome(r.code(), r.reason(), store.last());
    }

    /** A status snapshot computed on the driver thread (fresh, unlike {@link #view()}). */
    public CompletableFuture<NodeView> freshView() {
        return call(() -> {
            publish(clock.millis());
            return view;
        });
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        changeFeed.close();
        if (link != null) {
            link.close();
        }
        for (ManagedChannel c : channels.values()) {
            c.shutdownNow();
        }
        // The driver has stopped: no new batch starts; let the one being written finish first.
        syncer.shutdown();
        try {
            syncer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (batch != null) {
            batch.close();
        }
        store.close();
    }
}
