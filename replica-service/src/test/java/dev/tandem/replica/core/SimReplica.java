package dev.tandem.replica.core;

import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import dev.tandem.replica.core.SimNetwork.Ack;
import dev.tandem.replica.core.SimNetwork.Append;
import dev.tandem.replica.core.SimNetwork.Envelope;
import dev.tandem.replica.core.SimNetwork.Heartbeat;
import dev.tandem.replica.core.SimNetwork.Msg;
import dev.tandem.replica.core.SimNetwork.SimEntry;
import dev.tandem.replica.core.SimNetwork.StreamError;
import dev.tandem.replica.core.SimNetwork.Subscribe;
import dev.tandem.replica.core.SimNetwork.Truncate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One simulated replica: a {@link ReplicaCore} and a small driver that does the I/O the core asks
 * for, in the core's order (persist, send, complete), on an in-memory disk. The disk has a
 * durable part (log, meta, rollback records) that survives a crash and a volatile part (entries
 * and meta written but not yet fsynced) that a crash loses. An fsync makes everything written
 * so far durable, as a sync RocksDB write does for the WAL before it.
 */
final class SimReplica {

    /** What the driver needs from the simulation around it. */
    interface World {
        long nowMs();

        void send(String from, String to, Msg msg);

        long newStreamId();

        void completed(SimReplica leader, List<Completion<Long>> completions);

        void trace(String line);

        void fail(String message);
    }

    private static final long STREAM_TIMEOUT_MS = 250;
    private static final long RESUBSCRIBE_BACKOFF_MS = 20;
    /**
     * The simulated network loses messages inside a live stream, which TCP under gRPC would turn
     * into a broken stream. A follower that heartbeats show to be behind, and that got nothing new
     * for this long, treats its stream as broken and subscribes again.
     */
    private static final long STALLED_STREAM_MS = 100;
    private static final int MAX_BATCH_ENTRIES = 8;
    private static final long ENTRY_BYTES = 100;

    final String id;
    private final CoreConfig config;
    private final World world;

    // Durable: survives a crash.
    List<SimEntry> durableLog = new ArrayList<>();
    DurableMeta durableMeta = DurableMeta.initial();
    final List<SimEntry> rollback = new ArrayList<>();

    // Volatile: the process and what it wrote without fsync.
    boolean up = true;
    long restartAtMs;
    ReplicaCore<Long> core;
    List<SimEntry> log = new ArrayList<>();
    DurableMeta meta = DurableMeta.initial();
    Map<String, Long> state = new TreeMap<>();
    long appliedLsn;

    // Follower side of the stream to its leader; 0 = no stream.
    private long streamId;
    private long lastHeardFromLeaderMs;
    private long lastProgressMs;
    private long nextSubscribeAtMs;

    // Leader side: the current stream of each follower, and when it last sent something.
    private final Map<String, Long> followerStreams = new LinkedHashMap<>();
    private final Map<String, Long> followerHeardMs = new LinkedHashMap<>();

    SimReplica(String id, CoreConfig config, World world) {
        this.id = id;
        this.config = config;
        this.world = world;
        this.core = new ReplicaCore<>(id, config, DurableMeta.initial(), LogPosition.ZERO, 1);
    }

    // ---- process lifecycle ---------------------------------------------------------------------

    void crash(long restartAtMs) {
        up = false;
        this.restartAtMs = restartAtMs;
        core = null;
        log = null;
        state = null;
        streamId = 0;
        followerStreams.clear();
        followerHeardMs.clear();
    }

    void restart() {
        up = true;
        log = new ArrayList<>(durableLog);
        meta = durableMeta;
        LogPosition last = log.isEmpty() ? LogPosition.ZERO : log.get(log.size() - 1).position();
        core = new ReplicaCore<>(id, config, durableMeta, last, 1);
        state = replay(log, log.size());
        appliedLsn = log.size();
        streamId = 0;
        nextSubscribeAtMs = world.nowMs();
        world.trace(id + " restarted as " + core.role() + " epoch " + core.epoch() + " last " + last);
    }

    // ---- commands (from the controller) --------------------------------------------------------

    CommandResult promote(long epoch, List<String> members) {
        CommandResult result = core.promote(world.nowMs(), epoch, members);
        persistCommand(result);
        closeStream();
        return result;
    }

    CommandResult follow(long epoch, String leaderId, List<String> members) {
        boolean wasLeader = core.role() == Role.LEADER;
        CommandResult result = core.follow(world.nowMs(), epoch, leaderId, members);
        persistCommand(result);
        if (wasLeader) {
            followerStreams.clear();
            followerHeardMs.clear();
        }
        if (result.metaToPersist() != null) {
            // A new leader or epoch: the old stream is of no use any more.
            closeStream();
        }
        world.completed(this, core.drainCompletions());
        return result;
    }

    CommandResult stepDown(long epoch) {
        CommandResult result = core.stepDown(world.nowMs(), epoch);
        persistCommand(result);
        return result;
    }

    private void persistCommand(CommandResult result) {
        if (result.metaToPersist() != null) {
            meta = result.metaToPersist();
            fsync();
        }
    }

    // ---- client writes -------------------------------------------------------------------------

    /** OK when the write is logged and waits for its concern, else why the leader refused it. */
    ErrorCode write(long writeId, String key, long value, WriteConcern concern, long deadlineMs) {
        ErrorCode admitted = core.admitWrite(world.nowMs());
        if (admitted != ErrorCode.OK) {
            return admitted;
        }
        LogPosition position = core.assignNext(world.nowMs());
        if (position.lsn() != log.size() + 1) {
            world.fail(id + " assigned " + position + " but its log holds " + log.size() + " entries");
        }
        log.add(new SimEntry(position.epoch(), position.lsn(), writeId, key, value));
        core.awaitConcern(position, concern, deadlineMs, writeId);
        return ErrorCode.OK;
    }

    // ---- disk ----------------------------------------------------------------------------------

    /** Everything written so far becomes durable; then the core hears of it and followers ack. */
    void fsync() {
        checkRemovedEntriesWereRolledBack();
        durableLog = new ArrayList<>(log);
        durableMeta = meta;
        applyUpTo(log.size());
        // Completions come out of any call that returns them, on a follower too (a deposed
        // leader's writes complete at the next such call).
        world.completed(this, core.onLocalFlush(world.nowMs(), log.size()));
        if (core.role() == Role.FOLLOWER && streamId != 0) {
            sendAck();
        }
    }

    /** Invariant (d), checked where durable entries can disappear: at the fsync that makes a truncation durable. */
    private void checkRemovedEntriesWereRolledBack() {
        for (SimEntry before : durableLog) {
            int i = (int) before.lsn() - 1;
            boolean kept = i < log.size() && log.get(i).equals(before);
            if (!kept && !rollback.contains(before)) {
                world.fail(id + " dropped durable entry " + before + " without a rollback record");
            }
        }
    }

    private void applyUpTo(long lsn) {
        for (long next = appliedLsn + 1; next <= lsn; next++) {
            SimEntry e = log.get((int) next - 1);
            state.put(e.key(), e.value());
        }
        appliedLsn = Math.max(appliedLsn, lsn);
    }

    static Map<String, Long> replay(List<SimEntry> log, long upToLsn) {
        Map<String, Long> replayed = new TreeMap<>();
        for (int i = 0; i < upToLsn; i++) {
            replayed.put(log.get(i).key(), log.get(i).value());
        }
        return replayed;
    }

    // ---- messages ------------------------------------------------------------------------------

    void receive(Envelope envelope) {
        long now = world.nowMs();
        Msg msg = envelope.msg();
        if (msg instanceof Subscribe s) {
            onSubscribe(now, s);
        } else if (msg instanceof Ack a) {
            Long current = followerStreams.get(a.followerId());
            if (core.role() == Role.LEADER && current != null && current == a.streamId()) {
                followerHeardMs.put(a.followerId(), now);
                world.completed(this, core.onAck(now, a.followerId(), a.epoch(), a.flushedLsn(), a.appliedLsn()));
            }
        } else if (msg instanceof Append a) {
            if (isCurrentStream(a.streamId())) {
                onAppend(now, a);
            }
        } else if (msg instanceof Truncate t) {
            if (isCurrentStream(t.streamId())) {
                onTruncate(now, t);
            }
        } else if (msg instanceof Heartbeat h) {
            if (isCurrentStream(h.streamId())) {
                core.onHeartbeat(now, h.epoch(), h.leaderLast());
                sendAck();
                if (h.leaderLast().lsn() > core.last().lsn() && now - lastProgressMs > STALLED_STREAM_MS) {
                    closeStream();
                }
            }
        } else if (msg instanceof StreamError e) {
            if (e.streamId() == streamId) {
                world.trace(id + " stream " + e.streamId() + " refused: " + e.code());
                closeStream();
            }
        }
    }

    private boolean isCurrentStream(long messageStreamId) {
        if (messageStreamId != streamId || streamId == 0) {
            return false;
        }
        lastHeardFromLeaderMs = world.nowMs();
        return true;
    }

    private void onSubscribe(long now, Subscribe s) {
        SubscribeDecision decision = core.onSubscribe(now, s.followerId(), s.epoch(), s.last(), s.history());
        if (decision instanceof SubscribeDecision.Reject r) {
            world.send(id, s.followerId(), new StreamError(s.streamId(), r.code()));
            return;
        }
        if (decision instanceof SubscribeDecision.Snapshot) {
            world.fail(id + " asked " + s.followerId() + " for a snapshot, but nothing is compacted here");
            return;
        }
        followerStreams.put(s.followerId(), s.streamId());
        followerHeardMs.put(s.followerId(), now);
        if (decision instanceof SubscribeDecision.Truncate t) {
            world.trace(id + " tells " + s.followerId() + " (last " + s.last() + ") to truncate after " + t.toLsn());
            world.send(id, s.followerId(), new Truncate(s.streamId(), core.epoch(), t.toLsn(), core.meta().history()));
        }
    }

    private void onAppend(long now, Append a) {
        LogPosition lastOfBatch = a.entries().get(a.entries().size() - 1).position();
        AppendDecision decision = core.onAppend(now, a.epoch(), a.prev(), lastOfBatch, a.history());
        if (decision instanceof AppendDecision.Accept accept) {
            for (SimEntry e : a.entries()) {
                if (e.lsn() != log.size() + 1) {
                    world.fail(id + " accepted " + e + " with " + log.size() + " entries in its log");
                }
                log.add(e);
            }
            meta = accept.meta();
            lastProgressMs = now;
        } else {
            closeStream();
        }
    }

    private void onTruncate(long now, Truncate t) {
        AppendDecision decision = core.onTruncate(now, t.epoch(), t.toLsn(), t.history());
        if (decision instanceof AppendDecision.Accept accept) {
            long keep = accept.truncateAfterLsn();
            if (keep >= 0 && keep < log.size()) {
                // The rollback file is written (and synced) before the entries leave the log.
                for (int i = (int) keep; i < log.size(); i++) {
                    rollback.add(log.get(i));
                }
                world.trace(id + " truncated " + (log.size() - keep) + " entries after lsn " + keep);
                log = new ArrayList<>(log.subList(0, (int) keep));
                if (appliedLsn > keep) {
                    // Undo: the state goes back to the kept prefix.
                    state = replay(log, keep);
                    appliedLsn = keep;
                }
            }
            meta = accept.meta();
            lastProgressMs = now;
        } else {
            closeStream();
        }
    }

    private void sendAck() {
        world.send(id, core.meta().leaderId(), new Ack(streamId, id, core.epoch(), core.flushedLsn(), appliedLsn));
    }

    // ---- the driver's turn ---------------------------------------------------------------------

    void turn() {
        long now = world.nowMs();
        if (core.role() == Role.LEADER) {
            leaderTurn(now);
        } else if (core.role() == Role.FOLLOWER) {
            followerTurn(now);
        } else {
            closeStream();
        }
        world.completed(this, core.onTick(now));
    }

    private void leaderTurn(long now) {
        for (String follower : new ArrayList<>(followerStreams.keySet())) {
            if (now - followerHeardMs.get(follower) > STREAM_TIMEOUT_MS) {
                followerStreams.remove(follower);
                followerHeardMs.remove(follower);
                core.onFollowerDisconnected(follower);
                continue;
            }
            long stream = followerStreams.get(follower);
            ShipWindow window = core.shipWindow(follower);
            if (!window.isEmpty()) {
                List<SimEntry> batch = new ArrayList<>();
                long bytes = 0;
                for (long lsn = window.fromLsn(); lsn <= window.toLsn() && batch.size() < MAX_BATCH_ENTRIES; lsn++) {
                    if (!batch.isEmpty() && bytes + ENTRY_BYTES > window.maxBytes()) {
                        break;
                    }
                    batch.add(log.get((int) lsn - 1));
                    bytes += ENTRY_BYTES;
                }
                long prevLsn = window.fromLsn() - 1;
                LogPosition prev = prevLsn == 0 ? LogPosition.ZERO : log.get((int) prevLsn - 1).position();
                world.send(id, follower, new Append(stream, core.epoch(), prev, batch, core.meta().history()));
                core.onShipped(now, follower, batch.get(batch.size() - 1).lsn(), bytes);
            } else if (core.heartbeatDue(now, follower)) {
                world.send(id, follower, new Heartbeat(stream, core.epoch(), core.last()));
                core.onHeartbeatSent(now, follower);
            }
        }
    }

    private void followerTurn(long now) {
        if (streamId != 0 && now - lastHeardFromLeaderMs > STREAM_TIMEOUT_MS) {
            closeStream();
        }
        if (streamId == 0 && now >= nextSubscribeAtMs) {
            streamId = world.newStreamId();
            lastHeardFromLeaderMs = now;
            lastProgressMs = now;
            core.onStreamState(now, true);
            world.send(id, core.meta().leaderId(),
                    new Subscribe(streamId, id, core.epoch(), core.last(), core.meta().history()));
        }
    }

    private void closeStream() {
        if (streamId != 0) {
            streamId = 0;
            core.onStreamState(world.nowMs(), false);
            nextSubscribeAtMs = world.nowMs() + RESUBSCRIBE_BACKOFF_MS;
        }
    }

    boolean streaming() {
        return streamId != 0;
    }

    /** The log as it stands: volatile if the process is up, else what survived on disk. */
    List<SimEntry> visibleLog() {
        return up ? log : durableLog;
    }
}
