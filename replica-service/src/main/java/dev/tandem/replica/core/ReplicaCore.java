package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.IntToLongFunction;

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
 * <p>Every completion is handed out exactly once, by whichever of {@link #drainCompletions},
 * {@link #onLocalFlush}, {@link #onAck} or {@link #onTick} the driver calls next after it was
 * produced (a command or {@link #awaitConcern} cannot return it themselves).
 *
 * <p>Errors: a request the cluster can legitimately send at the wrong moment (an older epoch, a
 * replica that is not the leader, a stale stream) gets an {@link ErrorCode}. A transition that
 * {@link Role} does not allow, or a call that breaks the driver contract, is a bug and throws
 * {@link IllegalStateException} naming the state.
 *
 * @param <W> the driver's handle for a waiting client request (a future, a gRPC observer, ...)
 */
public final class ReplicaCore<W> {

    /** Follower: we have not heard where the leader's log ends (or since when we were caught up). */
    private static final long UNKNOWN = -1;

    private final String selfId;
    private final CoreConfig config;

    // What DurableMeta holds; meta() rebuilds it so the driver persists exactly this.
    private long epoch;
    private EpochHistory history;
    private Role role;
    private String leaderId;
    private List<String> members;

    private LogPosition last;
    private long flushedLsn;
    private long logStartLsn;

    /** Present exactly while role is LEADER. */
    private LeaderState<W> leader;

    // A follower's view of its leader, for lag and staleness.
    private boolean streaming;
    private long leaderLastLsn = UNKNOWN;
    private long lastCaughtUpMs = UNKNOWN;
    /** Follower: when the leader's stream last delivered anything (append, truncate, heartbeat). */
    private long lastHeardFromLeaderMs = UNKNOWN;

    private final List<Completion<W>> readyCompletions = new ArrayList<>();

    /**
     * @param meta        what was persisted last (or {@link DurableMeta#initial()} on a new disk)
     * @param last        position of the last entry in the local log (ZERO when empty)
     * @param logStartLsn oldest lsn still in the local log (1 when nothing was compacted;
     *                    last.lsn + 1 when the log is empty after a snapshot)
     */
    public ReplicaCore(String selfId, CoreConfig config, DurableMeta meta, LogPosition last, long logStartLsn) {
        if (selfId == null || selfId.isEmpty()) {
            throw new IllegalArgumentException("selfId is required");
        }
        this.selfId = selfId;
        this.config = Objects.requireNonNull(config, "config");
        Objects.requireNonNull(meta, "meta");
        this.last = Objects.requireNonNull(last, "last");
        if (logStartLsn < 1 || logStartLsn > last.lsn() + 1) {
            throw new IllegalArgumentException("logStartLsn " + logStartLsn + " outside 1.." + (last.lsn() + 1));
        }
        if (last.lsn() > 0 && meta.history().epochOf(last.lsn()) != last.epoch()) {
            throw new IllegalArgumentException("last entry " + last + " disagrees with the persisted history " + meta.history());
        }
        this.epoch = meta.epoch();
        this.history = meta.history();
        // A leader that crashed may have shipped entries it never flushed and lost them: leading
        // the same epoch again could give another entry the same (epoch, lsn). So it waits for
        // the controller, which promotes with a new epoch or tells it whom to follow.
        this.role = meta.role() == Role.LEADER ? Role.UNASSIGNED : meta.role();
        this.leaderId = role == Role.FOLLOWER ? meta.leaderId() : "";
        this.members = meta.members();
        this.flushedLsn = last.lsn();
        this.logStartLsn = logStartLsn;
    }

    // ---- identity ----------------------------------------------------------------------------

    public DurableMeta meta() {
        return new DurableMeta(epoch, history, role, leaderId, members);
    }

    public Role role() {
        return role;
    }

    public long epoch() {
        return epoch;
    }

    public LogPosition last() {
        return last;
    }

    public long flushedLsn() {
        return flushedLsn;
    }

    /** Kafka-style epoch check for any request carrying an epoch: lower = FENCED, higher = UNKNOWN_EPOCH. */
    public ErrorCode checkEpoch(long requestEpoch) {
        if (requestEpoch < epoch) {
            return ErrorCode.FENCED;
        }
        return requestEpoch > epoch ? ErrorCode.UNKNOWN_EPOCH : ErrorCode.OK;
    }

    // ---- admin commands ----------------------------------------------------------------------

    /**
     * Become leader of {@code epoch} over {@code members} (ids, self included). Requires epoch >
     * current, or == current when already leader of it (idempotent). Records (epoch, last.lsn + 1,
     * self) in the history. The lease starts invalid: writes are admitted once enough followers
     * have been heard from.
     */
    public CommandResult promote(long nowMs, long epoch, List<String> members) {
        requireMember(members);
        if (epoch < this.epoch) {
            return refused(ErrorCode.FENCED, "promotion to epoch " + epoch + " is older than epoch " + this.epoch);
        }
        if (role == Role.LEADER && epoch == this.epoch) {
            if (members.equals(this.members)) {
                return new CommandResult(ErrorCode.OK, "already leader of epoch " + epoch, null);
            }
            this.members = List.copyOf(members);
            return new CommandResult(ErrorCode.OK, "already leader of epoch " + epoch + "; members updated", meta());
        }
        if (role == Role.LEADER) {
            // Commands come from the controller or an operator: a wrong one is refused, not fatal.
            return refused(ErrorCode.INVALID_ARGUMENT, "promote to epoch " + epoch + " refused: " + state()
                    + " (a leader must be told to follow first)");
        }
        if (epoch == this.epoch) {
            // Reusing an epoch could give two different entries the same (epoch, lsn).
            return refused(ErrorCode.FENCED, "promote to epoch " + epoch + " refused: " + state()
                    + " already knows that epoch (epochs are never reused; promote with a newer one)");
        }
        long epochStartLsn = last.lsn() + 1;
        this.history = history.withEpoch(epoch, epochStartLsn, selfId);
        this.epoch = epoch;
        this.role = Role.LEADER;
        this.leaderId = selfId;
        this.members = List.copyOf(members);
        this.leader = new LeaderState<>(nowMs, epochStartLsn, config.maxRetainedEntries());
        this.streaming = false;
        this.leaderLastLsn = UNKNOWN;
        return new CommandResult(ErrorCode.OK, "leader of epoch " + epoch + " from lsn " + epochStartLsn, meta());
    }

    /**
     * Follow {@code leaderId} in {@code epoch} (>= current). A leader told to follow a newer epoch
     * is deposed: its pending writes complete NOT_CONFIRMED (see {@link #drainCompletions}).
     */
    public CommandResult follow(long nowMs, long epoch, String leaderId, List<String> members) {
        if (leaderId == null || leaderId.isEmpty() || leaderId.equals(selfId)) {
            throw new IllegalArgumentException("follow needs another replica's id, got '" + leaderId + "'");
        }
        Objects.requireNonNull(members, "members");
        if (epoch < this.epoch) {
            return refused(ErrorCode.FENCED, "follow in epoch " + epoch + " is older than epoch " + this.epoch);
        }
        if (role == Role.LEADER) {
            if (epoch == this.epoch) {
                return refused(ErrorCode.INVALID_ARGUMENT, "follow " + leaderId + " in epoch " + epoch + " refused: "
                        + state() + " leads that epoch (two leaders in one epoch)");
            }
            leader.pending.failAll("leader of epoch " + this.epoch + " deposed by epoch " + epoch
                    + ": durable here, not confirmed, may be rolled back", readyCompletions);
            leader = null;
        }
        boolean sameLeader = role == Role.FOLLOWER && epoch == this.epoch && leaderId.equals(this.leaderId);
        if (sameLeader && members.equals(this.members)) {
            return new CommandResult(ErrorCode.OK, "already following " + leaderId + " in epoch " + epoch, null);
        }
        if (!sameLeader) {
            streaming = false;
            leaderLastLsn = UNKNOWN;
            lastHeardFromLeaderMs = UNKNOWN;
        }
        this.role = Role.FOLLOWER;
        this.epoch = epoch;
        this.leaderId = leaderId;
        this.members = List.copyOf(members);
        return new CommandResult(ErrorCode.OK, "following " + leaderId + " in epoch " + epoch, meta());
    }

    /**
     * Leader stops admitting writes (switchover, fencing) but keeps shipping so followers can
     * catch up. {@code epoch} 0 means the current one; a lower epoch is FENCED.
     */
    public CommandResult stepDown(long nowMs, long epoch) {
        long target = epoch == 0 ? this.epoch : epoch;
        ErrorCode epochCheck = checkEpoch(target);
        if (epochCheck != ErrorCode.OK) {
            return refused(epochCheck, "step down in epoch " + target + " but this replica is in epoch " + this.epoch);
        }
        if (role != Role.LEADER) {
            return refused(ErrorCode.NOT_LEADER, "not leading: " + state());
        }
        leader.steppingDown = true;
        return new CommandResult(ErrorCode.OK, "stopped admitting writes in epoch " + this.epoch, null);
    }

    /** Completions produced by commands (a deposed leader's pending writes). */
    public List<Completion<W>> drainCompletions() {
        return takeReady();
    }

    // ---- leader: write path ------------------------------------------------------------------

    /** OK, NOT_LEADER (not leader, or stepping down) or LEASE_EXPIRED (self-fenced). */
    public ErrorCode admitWrite(long nowMs) {
        if (role != Role.LEADER || leader.steppingDown) {
            return ErrorCode.NOT_LEADER;
        }
        return leaseValid(nowMs) ? ErrorCode.OK : ErrorCode.LEASE_EXPIRED;
    }

    /**
     * The position for the next entry; {@link #admitWrite} must have said OK in this same turn.
     * The driver builds the entry (resolved mutations) at this position and persists it.
     */
    public LogPosition assignNext(long nowMs) {
        ErrorCode admitted = admitWrite(nowMs);
        if (admitted != ErrorCode.OK) {
            throw illegal("assignNext while admitWrite says " + admitted);
        }
        last = new LogPosition(epoch, last.lsn() + 1);
        leader.assignTimes.record(last.lsn(), nowMs);
        return last;
    }

    /**
     * Completes {@code waiter} once {@code concern} (never DEFAULT) holds for {@code position},
     * or with NOT_CONFIRMED at {@code deadlineMs}. The position may be older than this epoch (a
     * retried request found by its id): any entry of our log counts copies the same way. One that
     * is not in our log completes NOT_CONFIRMED. A concern that already holds completes at the
     * next call that hands out completions.
     */
    public void awaitConcern(LogPosition position, WriteConcern concern, long deadlineMs, W waiter) {
        if (role != Role.LEADER) {
            throw illegal("awaitConcern for " + position);
        }
        if (concern == WriteConcern.WRITE_CONCERN_DEFAULT || concern == WriteConcern.UNRECOGNIZED) {
            throw new IllegalArgumentException("resolve the write concern before waiting on it: " + concern);
        }
        if (position.lsn() < 1 || position.lsn() > last.lsn() || history.epochOf(position.lsn()) != position.epoch()) {
            readyCompletions.add(new Completion<>(waiter, position, ErrorCode.NOT_CONFIRMED,
                    "position " + position + " is not in the log of this leader (last " + last + ")"));
            return;
        }
        leader.pending.add(position, concern, deadlineMs, waiter);
        confirmPending(readyCompletions);
    }

    /** Local log durable up to {@code flushedLsn} (leader or follower). */
    public List<Completion<W>> onLocalFlush(long nowMs, long flushedLsn) {
        if (flushedLsn > last.lsn()) {
            throw illegal("flush reported up to lsn " + flushedLsn + " beyond the log");
        }
        this.flushedLsn = Math.max(this.flushedLsn, flushedLsn);
        List<Completion<W>> out = takeReady();
        if (role == Role.LEADER) {
            confirmPending(out);
        } else {
            noteIfCaughtUp(nowMs);
        }
        return out;
    }

    /**
     * A follower's acknowledgement; acks from another epoch are ignored. Pass only acks that
     * arrived on the follower's current stream (the one whose subscribe was accepted last): an
     * ack from an older stream may describe entries that stream's truncation since removed.
     */
    public List<Completion<W>> onAck(long nowMs, String followerId, long epoch, long flushedLsn, long appliedLsn) {
        List<Completion<W>> out = takeReady();
        if (role != Role.LEADER || epoch != this.epoch) {
            return out;
        }
        FollowerTracker follower = leader.followers.get(followerId);
        if (follower == null) {
            // Nothing was shipped to a follower that never subscribed: its ack proves nothing.
            return out;
        }
        follower.acked(nowMs, flushedLsn, appliedLsn);
        leader.assignTimes.forgetThrough(slowestMemberFlushedLsn());
        confirmPending(out);
        return out;
    }

    /** Time passes: expire deadlines (NOT_CONFIRMED), notice the lease running out. */
    public List<Completion<W>> onTick(long nowMs) {
        List<Completion<W>> out = takeReady();
        if (role == Role.LEADER) {
            leader.pending.expire(nowMs, out);
        }
        return out;
    }

    // ---- leader: shipping --------------------------------------------------------------------

    /**
     * A follower opened a stream (or re-subscribed) with its epoch, last position and history.
     *
     * <p>Truncate when the follower holds entries we do not; Snapshot when what it needs (from the
     * common point on) was compacted away, even if it also diverged: the driver installing a
     * snapshot first writes to the rollback file every local entry whose position the snapshot's
     * history does not hold.
     */
    public SubscribeDecision onSubscribe(long nowMs, String followerId, long followerEpoch, LogPosition followerLast,
                                         EpochHistory followerHistory) {
        if (role != Role.LEADER) {
            return new SubscribeDecision.Reject(ErrorCode.NOT_LEADER, "not leading: " + state());
        }
        if (followerEpoch > epoch) {
            return new SubscribeDecision.Reject(ErrorCode.UNKNOWN_EPOCH,
                    "follower is in epoch " + followerEpoch + ", this leader in " + epoch);
        }
        long commonLsn = history.commonPrefixEnd(last.lsn(), followerHistory, followerLast.lsn());
        FollowerTracker follower = leader.follower(followerId);
        follower.subscribed(nowMs, commonLsn, followerLast.lsn());
        if (commonLsn + 1 < logStartLsn) {
            return new SubscribeDecision.Snapshot(logStartLsn);
        }
        if (commonLsn < followerLast.lsn()) {
            return new SubscribeDecision.Truncate(commonLsn);
        }
        return new SubscribeDecision.Stream(commonLsn + 1);
    }

    /**
     * What may be shipped to the follower now (within its in-flight byte budget). When nothing is
     * in flight, the first entry may be shipped even if it alone exceeds {@code maxBytes}.
     */
    public ShipWindow shipWindow(String followerId) {
        FollowerTracker follower = role == Role.LEADER ? leader.followers.get(followerId) : null;
        if (follower == null || !follower.streaming || follower.sentLsn + 1 < logStartLsn) {
            return new ShipWindow(last.lsn() + 1, last.lsn(), 0);
        }
        return new ShipWindow(follower.sentLsn + 1, last.lsn(), config.maxInFlightBytes() - follower.inFlightBytes());
    }

    /** The driver shipped entries up to {@code lastLsn}, {@code bytes} in all. */
    public void onShipped(long nowMs, String followerId, long lastLsn, long bytes) {
        FollowerTracker follower = streamingFollower(followerId, "onShipped");
        if (lastLsn <= follower.sentLsn || lastLsn > last.lsn()) {
            throw illegal("shipped up to lsn " + lastLsn + " to " + followerId + " whose window starts at "
                    + (follower.sentLsn + 1));
        }
        follower.shipped(nowMs, lastLsn, bytes);
    }

    /** True when the follower has had nothing from us for a heartbeat interval. */
    public boolean heartbeatDue(long nowMs, String followerId) {
        FollowerTracker follower = role == Role.LEADER ? leader.followers.get(followerId) : null;
        return follower != null && follower.streaming && nowMs - follower.lastSentMs >= config.heartbeatIntervalMs();
    }

    public void onHeartbeatSent(long nowMs, String followerId) {
        streamingFollower(followerId, "onHeartbeatSent").lastSentMs = nowMs;
    }

    /** The stream broke: stop shipping; unacknowledged bytes are forgotten. */
    public void onFollowerDisconnected(String followerId) {
        FollowerTracker follower = role == Role.LEADER ? leader.followers.get(followerId) : null;
        if (follower != null) {
            follower.disconnected();
        }
    }

    /** Log entries below this lsn may be deleted (behind the slowest follower, within retention). */
    public long retainFromLsn() {
        if (role != Role.LEADER) {
            // A follower keeps the window a leader would, so it can serve lagging replicas after
            // a failover and truncate any divergent suffix (at most a lease's worth of entries),
            // without its log growing for ever. Never past its own flushed position.
            long floor = last.lsn() - config.maxRetainedEntries() + 1;
            return Math.max(logStartLsn, Math.min(floor, flushedLsn + 1));
        }
        long wantedFrom = slowestMemberFlushedLsn() + 1;
        long retentionFloor = last.lsn() - config.maxRetainedEntries() + 1;
        // Never compact what this replica has not flushed itself: its state does not cover it yet.
        long retainFrom = Math.min(Math.max(wantedFrom, retentionFloor), flushedLsn + 1);
        return Math.max(retainFrom, logStartLsn);
    }

    public void onLogCompacted(long logStartLsn) {
        if (logStartLsn < this.logStartLsn || logStartLsn > last.lsn() + 1) {
            throw illegal("log compacted to start at " + logStartLsn + " (was " + this.logStartLsn + ")");
        }
        this.logStartLsn = logStartLsn;
    }

    // ---- follower ----------------------------------------------------------------------------

    /**
     * The leader of {@code leaderEpoch} sent entries {@code prev.lsn + 1 .. lastOfBatch.lsn}.
     * Accept (adopting the epoch and the leader's history) only if they continue our log at
     * {@code prev}.
     */
    public AppendDecision onAppend(long nowMs, long leaderEpoch, LogPosition prev, LogPosition lastOfBatch,
                                   EpochHistory leaderHistory) {
        AppendDecision.Reject refusal = refuseLeaderMessage(leaderEpoch);
        if (refusal != null) {
            return refusal;
        }
        if (lastOfBatch.lsn() <= prev.lsn()) {
            return invalid("empty batch: prev " + prev + ", last " + lastOfBatch);
        }
        if (leaderHistory.epochOf(lastOfBatch.lsn()) != lastOfBatch.epoch()
                || (prev.lsn() > 0 && leaderHistory.epochOf(prev.lsn()) != prev.epoch())) {
            return invalid("batch " + prev + ".." + lastOfBatch + " disagrees with the leader's history " + leaderHistory);
        }
        if (prev.lsn() != last.lsn()) {
            return invalid("batch starts after " + prev + " but our log ends at " + last);
        }
        if (prev.lsn() > 0 && history.epochOf(prev.lsn()) != prev.epoch()) {
            return invalid("our entry at lsn " + prev.lsn() + " is from epoch " + history.epochOf(prev.lsn())
                    + ", the leader's from " + prev.epoch());
        }
        adoptLeader(leaderEpoch, leaderHistory.truncatedAfter(lastOfBatch.lsn()), lastOfBatch.lsn());
        last = lastOfBatch;
        lastHeardFromLeaderMs = nowMs;
        noteIfCaughtUp(nowMs);
        return new AppendDecision.Accept(-1, meta());
    }

    /**
     * The leader says our log diverges after {@code toLsn}. Accept with {@code truncateAfterLsn}
     * -1 (drop nothing) when every entry we hold is already the leader's.
     */
    public AppendDecision onTruncate(long nowMs, long leaderEpoch, long toLsn, EpochHistory leaderHistory) {
        AppendDecision.Reject refusal = refuseLeaderMessage(leaderEpoch);
        if (refusal != null) {
            return refusal;
        }
        if (toLsn > last.lsn()) {
            return invalid("truncate after lsn " + toLsn + " but our log ends at " + last);
        }
        if (leaderHistory.epochOf(last.lsn()) == last.epoch()) {
            // The leader holds our last entry, hence (log matching) our whole log: this Truncate
            // was repeated or overtaken by the entries it made room for. Dropping them now would
            // lose entries we may already have acknowledged to this leader.
            lastHeardFromLeaderMs = nowMs;
            return new AppendDecision.Accept(-1, meta());
        }
        if (toLsn + 1 < logStartLsn) {
            return invalid("truncate after lsn " + toLsn + " reaches below our snapshot (log starts at "
                    + logStartLsn + "): a new snapshot is needed");
        }
        if (toLsn > 0 && leaderHistory.epochOf(toLsn) != history.epochOf(toLsn)) {
            return invalid("truncation point " + toLsn + " is not an entry we share with the leader");
        }
        adoptLeader(leaderEpoch, leaderHistory.truncatedAfter(toLsn), UNKNOWN);
        lastHeardFromLeaderMs = nowMs;
        last = history.positionOf(toLsn);
        flushedLsn = Math.min(flushedLsn, toLsn);
        return new AppendDecision.Accept(toLsn, meta());
    }

    public void onHeartbeat(long nowMs, long leaderEpoch, LogPosition leaderLast) {
        if (role != Role.FOLLOWER || leaderEpoch < epoch) {
            return;
        }
        lastHeardFromLeaderMs = nowMs;
        leaderLastLsn = Math.max(leaderLastLsn, leaderLast.lsn());
        noteIfCaughtUp(nowMs);
    }

    /**
     * The follower's stream to its leader delivered its first message (true) or broke (false).
     * An open stream counts as streaming only while the leader is heard from within the lease
     * time (see {@link #status}).
     */
    public void onStreamState(long nowMs, boolean streaming) {
        this.streaming = streaming;
        lastHeardFromLeaderMs = streaming ? nowMs : UNKNOWN;
        noteIfCaughtUp(nowMs);
    }

    /** A snapshot at {@code applied} replaced the state and the log (which is now empty). */
    public DurableMeta onSnapshotInstalled(LogPosition applied, EpochHistory history) {
        if (role == Role.LEADER) {
            throw illegal("install a snapshot at " + applied);
        }
        EpochHistory kept = history.truncatedAfter(applied.lsn());
        if (applied.lsn() > 0 && kept.epochOf(applied.lsn()) != applied.epoch()) {
            throw new IllegalArgumentException("snapshot at " + applied + " disagrees with its history " + history);
        }
        this.history = kept;
        this.epoch = Math.max(epoch, kept.lastEpoch());
        this.last = applied;
        this.flushedLsn = applied.lsn();
        this.logStartLsn = applied.lsn() + 1;
        return meta();
    }

    // ---- status ------------------------------------------------------------------------------

    /**
     * {@code stalenessMs} is 0 while the follower streams and has flushed what the leader last
     * said it holds, else the ms since that was last true ({@link Long#MAX_VALUE} if it never was
     * since start). A follower whose stream is down is not caught up: it cannot know.
     */
    public CoreStatus status(long nowMs) {
        List<CoreStatus.FollowerProgress> followers = new ArrayList<>();
        if (role == Role.LEADER) {
            for (String member : members) {
                if (!member.equals(selfId)) {
                    followers.add(progressOf(nowMs, member));
                }
            }
        }
        return new CoreStatus(selfId, role, epoch, leaderId, members, last, flushedLsn, logStartLsn, history,
                admitWrite(nowMs) == ErrorCode.OK, role == Role.LEADER && leader.steppingDown,
                role == Role.LEADER ? last.lsn() : Math.max(leaderLastLsn, 0), stalenessMs(nowMs),
                leaderHeard(nowMs), followers);
    }

    // ---- internals ---------------------------------------------------------------------------

    private boolean leaseValid(long nowMs) {
        int followersNeeded = WriteConcerns.requiredCopies(config.minWriteConcern(), members.size()) - 1;
        if (followersNeeded <= 0) {
            return true;
        }
        int heard = 0;
        for (String member : members) {
            FollowerTracker follower = member.equals(selfId) ? null : leader.followers.get(member);
            if (follower != null && nowMs - follower.lastHeardMs < config.leaseMs()) {
                heard++;
            }
        }
        return heard >= followersNeeded;
    }

    private void confirmPending(List<Completion<W>> out) {
        long[] followerFlushed = memberFollowerFlushedLsns();
        // For k copies: this leader (only once it flushed) plus the k-1 most advanced followers.
        IntToLongFunction confirmedLsnByCopies = copies -> {
            if (copies <= 1) {
                return flushedLsn;
            }
            int fromTop = copies - 1;
            if (fromTop > followerFlushed.length) {
                return 0;
            }
            return Math.min(flushedLsn, followerFlushed[followerFlushed.length - fromTop]);
        };
        leader.pending.confirm(confirmedLsnByCopies, members.size(), out);
    }

    /** Flushed lsns of the member followers, ascending; a member never heard from counts as 0. */
    private long[] memberFollowerFlushedLsns() {
        long[] flushed = new long[Math.max(0, members.size() - 1)];
        int i = 0;
        for (String member : members) {
            if (!member.equals(selfId)) {
                FollowerTracker follower = leader.followers.get(member);
                flushed[i++] = follower == null ? 0 : follower.flushedLsn;
            }
        }
        Arrays.sort(flushed);
        return flushed;
    }

    private long slowestMemberFlushedLsn() {
        long[] flushed = memberFollowerFlushedLsns();
        return flushed.length == 0 ? last.lsn() : flushed[0];
    }

    private CoreStatus.FollowerProgress progressOf(long nowMs, String followerId) {
        FollowerTracker follower = leader.followers.get(followerId);
        long flushed = follower == null ? 0 : follower.flushedLsn;
        long lagMs = 0;
        if (flushed < last.lsn()) {
            long firstMissing = flushed + 1;
            long assignedMs = firstMissing < leader.epochStartLsn
                    ? leader.promotedAtMs
                    : leader.assignTimes.assignedMsAtOrAfter(firstMissing, nowMs);
            lagMs = Math.max(0, nowMs - assignedMs);
        }
        return new CoreStatus.FollowerProgress(followerId, flushed, follower == null ? 0 : follower.appliedLsn,
                last.lsn() - flushed, lagMs,
                nowMs - (follower == null ? leader.promotedAtMs : follower.lastHeardMs),
                follower != null && follower.streaming);
    }

    private long stalenessMs(long nowMs) {
        if (role == Role.LEADER || caughtUp(nowMs)) {
            return 0;
        }
        return lastCaughtUpMs == UNKNOWN ? Long.MAX_VALUE : Math.max(0, nowMs - lastCaughtUpMs);
    }

    private boolean caughtUp(long nowMs) {
        return leaderHeard(nowMs) && leaderLastLsn != UNKNOWN && flushedLsn >= leaderLastLsn;
    }

    /**
     * A follower streams while its stream is open <em>and</em> the leader was heard from (append,
     * truncate or heartbeat; an idle leader heartbeats every {@code heartbeatIntervalMs}) within
     * {@code leaseMs}. A paused (SIGSTOP) or wedged leader keeps the TCP stream open but goes
     * silent: after the lease time the follower says it is not streaming, which is the
     * controller's evidence that the leader is gone (and by then that leader's own lease has
     * run out too).
     */
    private boolean leaderHeard(long nowMs) {
        return role == Role.FOLLOWER && streaming && lastHeardFromLeaderMs != UNKNOWN
                && nowMs - lastHeardFromLeaderMs <= config.leaseMs();
    }

    private void noteIfCaughtUp(long nowMs) {
        if (caughtUp(nowMs)) {
            lastCaughtUpMs = nowMs;
        }
    }

    /** Appends and truncations from a leader: FENCED if older; ignored unless we follow someone. */
    private AppendDecision.Reject refuseLeaderMessage(long leaderEpoch) {
        if (leaderEpoch < epoch) {
            return new AppendDecision.Reject(ErrorCode.FENCED,
                    "leader's epoch " + leaderEpoch + " is older than our epoch " + epoch);
        }
        if (role != Role.FOLLOWER) {
            // A stream message that raced a promote or a restart; the driver drops that stream.
            return invalid("not following anyone: " + state());
        }
        return null;
    }

    /** Takes the leader's epoch (if newer) and its history as ours; the caller persists meta(). */
    private void adoptLeader(long leaderEpoch, EpochHistory adoptedHistory, long leaderLastKnownLsn) {
        if (leaderEpoch > epoch) {
            epoch = leaderEpoch;
            leaderLastLsn = UNKNOWN;
        }
        history = adoptedHistory;
        if (leaderLastKnownLsn != UNKNOWN) {
            leaderLastLsn = Math.max(leaderLastLsn, leaderLastKnownLsn);
        }
    }

    private FollowerTracker streamingFollower(String followerId, String call) {
        FollowerTracker follower = role == Role.LEADER ? leader.followers.get(followerId) : null;
        if (follower == null || !follower.streaming) {
            throw illegal(call + " for " + followerId + ", which has no open stream");
        }
        return follower;
    }

    private List<Completion<W>> takeReady() {
        List<Completion<W>> out = new ArrayList<>(readyCompletions);
        readyCompletions.clear();
        return out;
    }

    private void requireMember(List<String> members) {
        if (members == null || !members.contains(selfId)) {
            throw new IllegalArgumentException("members " + members + " must include this replica " + selfId);
        }
    }

    private static CommandResult refused(ErrorCode code, String reason) {
        return new CommandResult(code, reason, null);
    }

    private static AppendDecision.Reject invalid(String reason) {
        return new AppendDecision.Reject(ErrorCode.INVALID_ARGUMENT, reason);
    }

    private IllegalStateException illegal(String what) {
        return new IllegalStateException(what + " is not allowed in state " + state());
    }

    private String state() {
        return "[" + selfId + " role=" + role + " epoch=" + epoch + " leader=" + leaderId + " last=" + last
                + " flushed=" + flushedLsn + (leader != null && leader.steppingDown ? " stepping-down" : "") + "]";
    }
}
