package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import java.util.List;

/**
 * The replication state machine of one replica. Single-threaded: exactly one driver thread calls
 * it. Pure: no I/O, no clock (every input carries {@code nowMs}), no randomness.
 *
 * <p>The driver's contract, in the order it must act (etcd raft's persist, send, apply):
 * <ol>
 *   <li>persist what a result says to persist (meta, entries, truncation) with fsync;</li>
 *   <li>send what must be sent (entries in {@link #shipWindow}, acks, heartbeats);</li>
 *   <li>complete client requests from the returned {@link Completion}s.</li>
 * </ol>
 * A leader may ship entries before its own fsync completes: it counts itself towards a write
 * concern only after {@link #onLocalFlush}. A follower acknowledges only what it flushed.
 *
 * @param <W> the driver's handle for a waiting client request (a future, a gRPC observer, ...)
 */
public final class ReplicaCore<W> {

    /**
     * @param meta        what was persisted last (or {@link DurableMeta#initial()} on a new disk)
     * @param last        position of the last entry in the local log (ZERO when empty)
     * @param logStartLsn oldest lsn still in the local log (1 when nothing was compacted;
     *                    last.lsn + 1 when the log is empty after a snapshot)
     */
    public ReplicaCore(String selfId, CoreConfig config, DurableMeta meta, LogPosition last, long logStartLsn) {
        throw new UnsupportedOperationException("implemented in the core commit");
    }

    // ---- identity ----------------------------------------------------------------------------

    public DurableMeta meta() { throw new UnsupportedOperationException(); }

    public Role role() { throw new UnsupportedOperationException(); }

    public long epoch() { throw new UnsupportedOperationException(); }

    public LogPosition last() { throw new UnsupportedOperationException(); }

    public long flushedLsn() { throw new UnsupportedOperationException(); }

    /** Kafka-style epoch check for any request carrying an epoch: lower = FENCED, higher = UNKNOWN_EPOCH. */
    public ErrorCode checkEpoch(long requestEpoch) { throw new UnsupportedOperationException(); }

    // ---- admin commands ----------------------------------------------------------------------

    /**
     * Become leader of {@code epoch} over {@code members} (ids, self included). Requires epoch >
     * current, or == current when already leader of it (idempotent). Records (epoch, last.lsn + 1,
     * self) in the history. The lease starts invalid: writes are admitted once enough followers
     * have been heard from.
     */
    public CommandResult promote(long nowMs, long epoch, List<String> members) { throw new UnsupportedOperationException(); }

    /**
     * Follow {@code leaderId} in {@code epoch} (>= current). A leader told to follow a newer epoch
     * is deposed: its pending writes complete NOT_CONFIRMED (see {@link #drainCompletions}).
     */
    public CommandResult follow(long nowMs, long epoch, String leaderId, List<String> members) { throw new UnsupportedOperationException(); }

    /**
     * Leader stops admitting writes (switchover, fencing) but keeps shipping so followers can
     * catch up. {@code epoch} 0 means the current one; a lower epoch is FENCED.
     */
    public CommandResult stepDown(long nowMs, long epoch) { throw new UnsupportedOperationException(); }

    /** Completions produced by commands (a deposed leader's pending writes). */
    public List<Completion<W>> drainCompletions() { throw new UnsupportedOperationException(); }

    // ---- leader: write path ------------------------------------------------------------------

    /** OK, NOT_LEADER (not leader, or stepping down) or LEASE_EXPIRED (self-fenced). */
    public ErrorCode admitWrite(long nowMs) { throw new UnsupportedOperationException(); }

    /**
     * The position for the next entry; {@link #admitWrite} must have said OK in this same turn.
     * The driver builds the entry (resolved mutations) at this position and persists it.
     */
    public LogPosition assignNext(long nowMs) { throw new UnsupportedOperationException(); }

    /**
     * Completes {@code waiter} once {@code concern} (never DEFAULT) holds for {@code position},
     * or with NOT_CONFIRMED at {@code deadlineMs}.
     */
    public void awaitConcern(LogPosition position, WriteConcern concern, long deadlineMs, W waiter) { throw new UnsupportedOperationException(); }

    /** Local log durable up to {@code flushedLsn} (leader or follower). */
    public List<Completion<W>> onLocalFlush(long nowMs, long flushedLsn) { throw new UnsupportedOperationException(); }

    /** A follower's acknowledgement; acks from another epoch are ignored. */
    public List<Completion<W>> onAck(long nowMs, String followerId, long epoch, long flushedLsn, long appliedLsn) { throw new UnsupportedOperationException(); }

    /** Time passes: expire deadlines (NOT_CONFIRMED), notice the lease running out. */
    public List<Completion<W>> onTick(long nowMs) { throw new UnsupportedOperationException(); }

    // ---- leader: shipping --------------------------------------------------------------------

    /** A follower opened a stream (or re-subscribed) with its epoch, last position and history. */
    public SubscribeDecision onSubscribe(long nowMs, String followerId, long followerEpoch, LogPosition followerLast,
                                         EpochHistory followerHistory) { throw new UnsupportedOperationException(); }

    /** What may be shipped to the follower now (within its in-flight byte budget). */
    public ShipWindow shipWindow(String followerId) { throw new UnsupportedOperationException(); }

    /** The driver shipped entries up to {@code lastLsn}, {@code bytes} in all. */
    public void onShipped(long nowMs, String followerId, long lastLsn, long bytes) { throw new UnsupportedOperationException(); }

    /** True when the follower has had nothing from us for a heartbeat interval. */
    public boolean heartbeatDue(long nowMs, String followerId) { throw new UnsupportedOperationException(); }

    public void onHeartbeatSent(long nowMs, String followerId) { throw new UnsupportedOperationException(); }

    /** The stream broke: stop shipping; unacknowledged bytes are forgotten. */
    public void onFollowerDisconnected(String followerId) { throw new UnsupportedOperationException(); }

    /** Log entries below this lsn may be deleted (behind the slowest follower, within retention). */
    public long retainFromLsn() { throw new UnsupportedOperationException(); }

    public void onLogCompacted(long logStartLsn) { throw new UnsupportedOperationException(); }

    // ---- follower ----------------------------------------------------------------------------

    /**
     * The leader of {@code leaderEpoch} sent entries {@code prev.lsn + 1 .. lastOfBatch.lsn}.
     * Accept (adopting the epoch and the leader's history) only if they continue our log at
     * {@code prev}.
     */
    public AppendDecision onAppend(long nowMs, long leaderEpoch, LogPosition prev, LogPosition lastOfBatch,
                                   EpochHistory leaderHistory) { throw new UnsupportedOperationException(); }

    /** The leader says our log diverges after {@code toLsn}. */
    public AppendDecision onTruncate(long nowMs, long leaderEpoch, long toLsn, EpochHistory leaderHistory) { throw new UnsupportedOperationException(); }

    public void onHeartbeat(long nowMs, long leaderEpoch, LogPosition leaderLast) { throw new UnsupportedOperationException(); }

    /** The follower's stream to its leader connected or broke. */
    public void onStreamState(long nowMs, boolean streaming) { throw new UnsupportedOperationException(); }

    /** A snapshot at {@code applied} replaced the state and the log (which is now empty). */
    public DurableMeta onSnapshotInstalled(LogPosition applied, EpochHistory history) { throw new UnsupportedOperationException(); }

    // ---- status ------------------------------------------------------------------------------

    public CoreStatus status(long nowMs) { throw new UnsupportedOperationException(); }
}
