package dev.tandem.controller.engine;

import dev.tandem.common.LogPosition;
import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.HistoryEntry;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import dev.tandem.controller.planner.FailoverPlanner;
import dev.tandem.controller.planner.ReplicaView;
import dev.tandem.controller.platform.ReplicaPlatform;
import dev.tandem.controller.replica.CommandOutcome;
import dev.tandem.controller.replica.ReplicaAdmin;
import dev.tandem.controller.state.CasConflictException;
import dev.tandem.controller.state.ClusterStateStore;
import dev.tandem.controller.state.StoredState;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Role;
import dev.tandem.proto.StatusResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;

/**
 * Carries a recorded transition through its steps (see {@link Step}): do the step, then record it
 * with compare-and-set. Every step is idempotent on the replicas (same epoch), so a controller
 * that takes over after a crash re-does at most one step and finishes the job.
 *
 * <p>Order, and why: the new epoch is persisted before any replica hears of it (so the epoch is
 * never reused, whatever happens next); on a failover every other replica is cut off from the
 * old leader (told to follow the new epoch) and the choice is checked against positions read after
 * that, before anyone is promoted (so that a live old leader cannot have acknowledged, after our
 * probes, a write the new leader lacks; see {@link #cutOff});
 * followers are pointed after the promotion (they need a leader to subscribe to); labels move
 * last (the -rw Service must select a leader that already accepts writes).
 */
public final class TransitionExecutor {

    private static final Logger LOG = Logger.getLogger(TransitionExecutor.class);
    /** How often the switchover polls the candidate's flushed position, in ms. */
    static final long CATCH_UP_POLL_MS = 10;

    private final ClusterStateStore store;
    private final ReplicaAdmin admin;
    private final ReplicaPlatform platform;
    private final ControllerSettings settings;
    private final ControllerMetrics metrics;
    private final Clock clock;
    private final ExecutorService fanOut;

    public TransitionExecutor(ClusterStateStore store, ReplicaAdmin admin, ReplicaPlatform platform,
                              ControllerSettings settings, ControllerMetrics metrics, Clock clock, ExecutorService fanOut) {
        this.store = store;
        this.admin = admin;
        this.platform = platform;
        this.settings = settings;
        this.metrics = metrics;
        this.clock = clock;
        this.fanOut = fanOut;
    }

    /** Records {@code t} (new epoch and leader) with compare-and-set; nothing is sent to replicas yet. */
    public StoredState begin(StoredState stored, Transition t, List<Member> members) throws CasConflictException {
        ClusterState base = stored == null ? new ClusterState(0, null, members, null, List.of()) : stored.state().withMembers(members);
        StoredState next = store.compareAndSet(stored == null ? null : stored.version(), base.begin(t));
        log(t, "recorded epoch " + t.epoch() + " leader " + t.to() + (t.mayLose() == null ? "" : "; UNSAFE: " + t.mayLose()));
        event(t, t.mayLose() == null ? "Normal" : "Warning", "Recorded", "recorded epoch " + t.epoch() + ", leader " + t.to()
                + " (" + t.reason() + (t.from() == null ? "" : ", was " + t.from()) + ")"
                + (t.mayLose() == null ? "" : "; UNSAFE promotion: " + t.mayLose()));
        return next;
    }

    /** Runs the in-progress transition of {@code stored} to the end; returns the final stored state. */
    public StoredState run(StoredState stored) throws CasConflictException, StepFailedException {
        while (stored.state().inProgress() != null) {
            stored = advance(stored);
        }
        return stored;
    }

    /** Does the step after the recorded one and records it. */
    StoredState advance(StoredState stored) throws CasConflictException, StepFailedException {
        ClusterState s = stored.state();
        Transition t = s.inProgress();
        switch (t.step()) {
            case RECORDED -> {
                if (t.kind() == TransitionKind.FAILOVER) {
                    // Fence every other replica (old leader included) with the new epoch, then
                    // choose from positions read after that; recorded, because it may retarget.
                    Transition next = cutOff(s, t);
                    String what = next.to().equals(t.to())
                            ? "cut off from " + t.from() + ": every reachable replica follows epoch " + t.epoch()
                              + "; " + t.to() + " still the most advanced"
                            : "RETARGETED " + t.to() + " -> " + next.to() + " in epoch " + next.epoch() + ": after the cut-off "
                              + next.to() + " holds writes " + t.to() + " lacks";
                    return record(stored, next.at(Step.FENCED), what);
                }
                if (t.kind() == TransitionKind.SWITCHOVER) {
                    Transition next = stepDownOldLeader(s, t);
                    if (next.to().equals(next.from())) {
                        return recordFallback(stored, next);
                    }
                    return record(stored, next.at(Step.FENCED), "stepped down " + t.from() + " (writes stopped) at lsn "
                            + next.fencedLsn() + "; waiting for " + t.to() + " to flush it");
                }
                // Bootstrap: no old leader to fence, nothing to catch up; no state write on the way.
                log(t, "fenced (no previous leader)");
                event(t, "Normal", "Fenced", "fenced (no previous leader)");
                return advanceFrom(stored, t.at(Step.CAUGHT_UP));
            }
            case FENCED -> {
                if (t.kind() == TransitionKind.SWITCHOVER && !t.to().equals(t.from())) {
                    Transition next = catchUp(s, t);
                    if (next.to().equals(next.from())) {
                        return recordFallback(stored, next);
                    }
                    return record(stored, next, "caught up: " + t.to() + " flushed lsn " + t.fencedLsn()
                            + " (everything " + t.from() + " wrote)");
                }
                return advanceFrom(stored, t.at(Step.CAUGHT_UP));
            }
            case CAUGHT_UP -> {
                CommandOutcome r = promote(s, t);
                return record(stored, t.at(Step.PROMOTED), "promoted " + t.to() + " to epoch " + t.epoch() + ", last " + r.last());
            }
            case PROMOTED -> {
                String summary = pointFollowers(s, t);
                return record(stored, t.at(Step.FOLLOWING), "followers pointed at " + t.to() + ": " + summary);
            }
            case FOLLOWING -> {
                // Relabelling is idempotent; its completion is recorded together with "done".
                platform.applyRoles(t.to(), ids(s.members()));
                log(t.at(Step.RELABELED), "role labels: leader=" + t.to());
                event(t.at(Step.RELABELED), "Normal", "Relabeled", "role labels: leader=" + t.to());
                return finish(stored, t.at(Step.RELABELED));
            }
            case RELABELED -> {
                return finish(stored, t);
            }
            default -> throw new IllegalStateException("unknown step " + t.step() + " of " + t.id());
        }
    }

    /** The failover path has no catch-up step: go straight on without an extra state write. */
    private StoredState advanceFrom(StoredState stored, Transition skipped) throws CasConflictException, StepFailedException {
        ClusterState s = stored.state().progress(skipped);
        return advance(new StoredState(s, stored.version()));
    }

    /** A replica's answer in the cut-off: its view after it was told to follow the new epoch, or why not. */
    private record Fenced(Member member, ReplicaView view, String outcome) {}

    /**
     * Failover: cut every other replica off from the old leader, then check the choice again.
     *
     * <p>The candidate was chosen from positions probed while the old leader may still have been
     * alive (unreachable from us, reachable from its followers) and acknowledging writes. So:
     * {@code Follow(epoch, candidate)} to every other member in parallel (the old leader too, at
     * the probe deadline: if it answers it is deposed). A replica that accepts is in the new
     * epoch and refuses the old leader's appends (FENCED), so its flushed position is frozen, and
     * it is read once more. The candidate itself may keep receiving from the old leader; it is
     * read last. Every write the old leader acknowledges is on {@code c} replicas, itself
     * included, so the fenced replicas plus the candidate, if at least {@code n - c + 1}, hold a
     * copy of each: if none of them is ahead of the candidate, the candidate has them all.
     *
     * <p>If one is ahead, the candidate is fenced too ({@code Follow(epoch, best)}), every
     * position is now frozen, and the most advanced of a fresh read is promoted in a new epoch:
     * every replica already knows {@code epoch}, and a replica never takes a promotion to an
     * epoch it has seen. Repeating this step (a successor controller) is harmless: Follow of the
     * same epoch is idempotent, and a candidate that a predecessor already fenced is detected by
     * its epoch and sent down the same retarget path.
     */
    private Transition cutOff(ClusterState s, Transition t) throws StepFailedException {
        Member candidate = member(s, t.to());
        int n = s.members().size();
        int need = settings.policy().safeQuorum(n);
        boolean unsafeAllowed = t.mayLose() != null;
        List<Member> others = s.members().stream().filter(m -> !m.id().equals(t.to())).toList();
        List<Fenced> fenced = fenceAll(s, t, others, candidate);
        ReplicaView c = statusOf(candidate);
        if (c == null) {
            throw new StepFailedException("cut-off: candidate " + t.to() + " did not answer after the others were fenced");
        }
        List<ReplicaView> frozen = fenced.stream().filter(f -> f.view() != null).map(Fenced::view).toList();
        String summary = String.join(" ", fenced.stream().map(f -> f.member().id() + "=" + f.outcome()).toList());
        log(t, "cut-off: " + summary + "; candidate " + t.to() + " flushed " + c.flushed());
        if (frozen.size() + 1 < need && !unsafeAllowed) {
            throw new StepFailedException("cut-off: only " + (frozen.size() + 1) + " of " + n + " replicas fenced and read"
                    + " (candidate included); proving the candidate holds every acknowledged write needs " + need + " ["
                    + summary + "]");
        }
        if (c.epoch() > t.epoch()) {
            throw new StepFailedException("cut-off: candidate " + t.to() + " is in epoch " + c.epoch() + " > " + t.epoch()
                    + "; the cluster state is stale");
        }
        ReplicaView ahead = frozen.stream().max(FailoverPlanner.RANKING).orElse(null);
        // A candidate already in the new epoch (not as its leader) was fenced by a predecessor
        // that then died: it can no longer be promoted in this epoch.
        boolean candidateFenced = c.epoch() == t.epoch() && !c.isLeaderOf(t.epoch());
        if (!candidateFenced && (ahead == null || ahead.flushed().compareTo(c.flushed()) <= 0)) {
            return t;
        }
        // Freeze the candidate as well, then choose among frozen positions in a new epoch.
        if (ahead != null && !candidateFenced) {
            CommandOutcome r = admin.follow(candidate, t.epoch(), member(s, ahead.id()),
                    s.members(), t.id(), settings.commandTimeout());
            if (!r.ok()) {
                throw new StepFailedException("cut-off: " + ahead.id() + " (" + ahead.flushed() + ") is ahead of candidate "
                        + t.to() + " (" + c.flushed() + ") and the candidate could not be fenced: " + r);
            }
        }
        List<Member> readAgain = new ArrayList<>();
        readAgain.add(candidate);
        frozen.forEach(v -> readAgain.add(member(s, v.id())));
        List<CompletableFuture<ReplicaView>> reads = readAgain.stream()
                .map(m -> CompletableFuture.supplyAsync(() -> statusOf(m), fanOut)).toList();
        List<ReplicaView> all = new ArrayList<>();
        for (CompletableFuture<ReplicaView> f : reads) {
            ReplicaView v = f.join();
            if (v != null) {
                all.add(v);
            }
        }
        if (all.size() < need && !unsafeAllowed) {
            throw new StepFailedException("cut-off: only " + all.size() + " of " + n + " fenced replicas answered the second read;"
                    + " need " + need);
        }
        if (all.isEmpty()) {
            throw new StepFailedException("cut-off: no replica answered the second read");
        }
        // Every one of them is in the new epoch now: nothing moves any more. Most advanced wins;
        // on a tie the smaller id (nobody is streaming).
        ReplicaView best = all.stream().max(Comparator.comparing(ReplicaView::flushed)
                .thenComparing(ReplicaView::id, Comparator.reverseOrder())).orElseThrow();
        long newEpoch = Math.max(t.epoch(), all.stream().mapToLong(ReplicaView::epoch).max().orElse(0)) + 1;
        log(t, "cut-off: retarget to " + best.id() + " (flushed " + best.flushed() + ") in epoch " + newEpoch
                + "; positions after the cut-off: " + String.join(" ", all.stream().map(v -> v.id() + "=" + v.flushed()).toList()));
        event(t, "Warning", "Retargeted", "after cutting every replica off from " + t.from() + ", " + best.id() + " (flushed "
                + best.flushed() + ") is ahead of " + t.to() + " (flushed " + c.flushed() + "): promoting " + best.id()
                + " in epoch " + newEpoch + " instead (epoch " + t.epoch() + " stays burned)");
        return t.retargetInEpoch(best.id(), newEpoch, t.step());
    }

    /** Follow(epoch, candidate) to each of {@code others} in parallel; each that accepted is read again. */
    private List<Fenced> fenceAll(ClusterState s, Transition t, List<Member> others, Member candidate) {
        List<CompletableFuture<Fenced>> calls = new ArrayList<>();
        for (Member m : others) {
            // The old leader is most likely dead or hung: do not let it hold the failover up.
            Duration deadline = m.id().equals(t.from()) ? settings.probeTimeout() : settings.commandTimeout();
            calls.add(CompletableFuture.supplyAsync(() -> {
                CommandOutcome r = admin.follow(m, t.epoch(), candidate, s.members(), t.id(), deadline);
                if (!r.ok()) {
                    // FENCED: the replica is in a newer epoch than ours (stale record); the next
                    // state write or the planner notices. Either way it is not counted.
                    return new Fenced(m, null, r.code().name());
                }
                ReplicaView v = statusOf(m);
                return new Fenced(m, v, v == null ? "fenced,unread" : "fenced@" + v.flushed());
            }, fanOut));
        }
        // The old leader's answer is waited for only when the others are too few to prove the
        // candidate safe: it is most likely dead, and a call to it can take the whole probe
        // deadline (seen: ~150 ms of a 540 ms failover). Its Follow goes on in the background and
        // deposes it if it arrives; until then it counts as not fenced.
        List<Fenced> out = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) {
            if (!others.get(i).id().equals(t.from())) {
                out.add(calls.get(i).join());
            }
        }
        boolean enough = out.stream().filter(f -> f.view() != null).count() + 1 >= settings.policy().safeQuorum(s.members().size());
        for (int i = 0; i < calls.size(); i++) {
            Member m = others.get(i);
            if (m.id().equals(t.from())) {
                out.add(enough ? calls.get(i).getNow(new Fenced(m, null, "NO_ANSWER_YET")) : calls.get(i).join());
            }
        }
        return out;
    }

    /** One Status read at the probe deadline; null when it fails. */
    private ReplicaView statusOf(Member m) {
        try {
            StatusResponse r = admin.status(m, settings.probeTimeout())
                    .get(settings.probeTimeout().toMillis() + 50, TimeUnit.MILLISECONDS);
            if (r.hasError() && r.getError().getCode() != ErrorCode.OK) {
                return null;
            }
            return ReplicaView.of(r.getInfo());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException | TimeoutException e) {
            return null;
        }
    }

    /**
     * Switchover, step 1: the old leader stops admitting writes (it keeps shipping its log), and
     * answers with its last position: the catch-up target. Zero loss needs writes stopped before
     * that position is taken. If it does not step down, nothing was promoted: fall back (it
     * leads again in a new epoch, see {@link #fallBack}); if it cannot be reached at all the
     * step fails, is retried next round, and the planner aborts the switchover once the old
     * leader has failed enough probes (a failover takes over from there).
     */
    private Transition stepDownOldLeader(ClusterState s, Transition t) throws StepFailedException {
        Member old = member(s, t.from());
        CommandOutcome r = admin.stepDown(old, 0, t.id(), settings.commandTimeout());
        if (r.ok()) {
            return t.withFencedLsn(r.last().lsn());
        }
        // It may have stepped down even so (an answer lost to the deadline): writes may be stopped,
        // and only a promotion in a new epoch lets a replica lead again.
        return fallBack(s, t, t.from() + " did not step down (" + r + ")");
    }

    /**
     * Switchover, step 2: wait (poll every {@value #CATCH_UP_POLL_MS} ms, at most
     * {@code switchover-catch-up-timeout-ms}) until the candidate, still following the old leader,
     * has flushed everything the old leader had when it stepped down; else fall back.
     */
    private Transition catchUp(ClusterState s, Transition t) throws StepFailedException {
        Member candidate = member(s, t.to());
        long timeoutMs = settings.switchoverCatchUpTimeout().toMillis();
        long deadline = clock.millis() + timeoutMs;
        String last = "no answer";
        while (true) {
            ReplicaView v = statusOf(candidate);
            if (v != null) {
                last = "flushed lsn " + v.flushed().lsn() + ", " + v.role() + " of " + v.leaderId() + " in epoch " + v.epoch();
                if (v.role() == Role.ROLE_FOLLOWER && t.from().equals(v.leaderId()) && v.epoch() < t.epoch()
                        && v.flushed().lsn() >= t.fencedLsn()) {
                    return t.at(Step.CAUGHT_UP);
                }
            }
            if (clock.millis() >= deadline) {
                break;
            }
            sleep(CATCH_UP_POLL_MS);
        }
        return fallBack(s, t, t.to() + " did not catch up to lsn " + t.fencedLsn() + " within " + timeoutMs + " ms (" + last + ")");
    }

    /**
     * Switchover fallback: the old leader leads again, nothing lost (it has every write it
     * acknowledged). A stepped-down leader cannot simply resume, and the replica contract lets a
     * replica lead only through a promotion to an epoch it has never seen, which a leader cannot
     * take: so it is told to follow the recorded epoch (deposing it: writes still pending on it
     * complete NOT_CONFIRMED, durable on it, never lost) and is then promoted in the next epoch,
     * recorded before anyone hears of it. Repeating this (a successor controller) is harmless:
     * Follow of the same epoch is idempotent.
     */
    private Transition fallBack(ClusterState s, Transition t, String why) throws StepFailedException {
        Member old = member(s, t.from());
        CommandOutcome r = admin.follow(old, t.epoch(), member(s, t.to()), s.members(), t.id(), settings.commandTimeout());
        if (!r.ok()) {
            throw new StepFailedException("switchover " + t.id() + ": " + why + "; falling back to " + t.from()
                    + " needs it to leave its epoch, and Follow(epoch " + t.epoch() + ") failed: " + r);
        }
        log(t, "FALLBACK: " + why + "; " + t.from() + " left its epoch (follows epoch " + t.epoch() + "), re-promoting it in epoch "
                + (t.epoch() + 1));
        return t.retargetInEpoch(t.from(), t.epoch() + 1, Step.CAUGHT_UP).withReason(t.reason() + "; fell back: " + why);
    }

    private StoredState recordFallback(StoredState stored, Transition next) throws CasConflictException {
        StoredState out = store.compareAndSet(stored.version(), stored.state().progress(next));
        String what = "FALLBACK to " + next.from() + " in epoch " + next.epoch() + " (" + next.reason() + ")";
        log(next, what);
        event(next, "Warning", "FellBack", what);
        return out;
    }

    private CommandOutcome promote(ClusterState s, Transition t) throws StepFailedException {
        Member target = member(s, t.to());
        CommandOutcome r = admin.promote(target, t.epoch(), s.members(), t.id(), settings.commandTimeout());
        if (!r.ok()) {
            event(t, "Warning", "PromoteFailed", "promote " + t.to() + " to epoch " + t.epoch() + ": " + r);
            throw new StepFailedException("promote " + t.to() + " to epoch " + t.epoch() + " failed: " + r);
        }
        return r;
    }

    /** Follow to every other member in parallel; one that does not answer is reconciled later. */
    private String pointFollowers(ClusterState s, Transition t) {
        Member leader = member(s, t.to());
        List<CompletableFuture<String>> calls = new ArrayList<>();
        for (Member m : s.members()) {
            if (m.id().equals(t.to())) {
                continue;
            }
            calls.add(CompletableFuture.supplyAsync(() -> {
                CommandOutcome r = admin.follow(m, t.epoch(), leader, s.members(), t.id(), settings.commandTimeout());
                if (r.code() == ErrorCode.FENCED) {
                    // The replica is in a newer epoch than ours: our record is stale. Not fatal
                    // here; the planner refuses to act on it next round (replica_epoch_ahead).
                    LOG.warnf("failover id=%s: %s is ahead of epoch %d: %s", t.id(), m.id(), t.epoch(), r);
                }
                return m.id() + "=" + (r.ok() ? "ok" : r.code().name());
            }, fanOut));
        }
        List<String> results = new ArrayList<>();
        for (CompletableFuture<String> c : calls) {
            results.add(c.join());
        }
        return String.join(" ", results);
    }

    private StoredState finish(StoredState stored, Transition t) throws CasConflictException {
        long now = clock.millis();
        String outcome = t.kind() == TransitionKind.SWITCHOVER && t.to().equals(t.from())
                ? "fallback: leader unchanged, re-promoted in epoch " + t.epoch() : "done";
        StoredState next = store.compareAndSet(stored.version(),
                stored.state().finish(HistoryEntry.of(t, now, outcome), settings.historyMaxEntries()));
        Duration took = Duration.ofMillis(Math.max(0, now - t.detectedAtMs()));
        if (t.kind() == TransitionKind.FAILOVER) {
            metrics.failoverDone(took);
        }
        log(t, outcome + " in " + took.toMillis() + " ms (since detection)");
        event(t, "Normal", "Done", t.kind().name().toLowerCase() + " " + outcome + ": " + t.to() + " leads epoch " + t.epoch()
                + " (" + took.toMillis() + " ms since detection)");
        return next;
    }

    /** Gives up a transition whose target failed; its epoch stays burned. */
    public StoredState abort(StoredState stored, String why) throws CasConflictException {
        Transition t = stored.state().inProgress();
        StoredState next = store.compareAndSet(stored.version(),
                stored.state().abort(HistoryEntry.of(t, clock.millis(), "aborted: " + why), settings.historyMaxEntries()));
        log(t, "ABORTED at step " + t.step() + ": " + why + "; epoch " + t.epoch() + " stays burned");
        event(t, "Warning", "Aborted", "aborted at step " + t.step() + ": " + why);
        return next;
    }

    private StoredState record(StoredState stored, Transition next, String what) throws CasConflictException {
        StoredState out = store.compareAndSet(stored.version(), stored.state().progress(next));
        log(next, what);
        event(next, "Normal", stepReason(next.step()), what);
        return out;
    }

    private static String stepReason(Step step) {
        return switch (step) {
            case RECORDED -> "Recorded";
            case FENCED -> "Fenced";
            case CAUGHT_UP -> "CaughtUp";
            case PROMOTED -> "Promoted";
            case FOLLOWING -> "FollowersPointed";
            case RELABELED -> "Relabeled";
        };
    }

    private void log(Transition t, String what) {
        LOG.infof("%s id=%s epoch=%d step=%s from=%s to=%s: %s", t.kind().name().toLowerCase(), t.id(), t.epoch(),
                t.step(), t.from(), t.to(), what);
    }

    private void event(Transition t, String type, String reason, String message) {
        platform.event(t.to(), type, capitalize(t.kind()) + reason, "[" + t.id() + "] " + message);
    }

    private static String capitalize(TransitionKind k) {
        String n = k.name().toLowerCase();
        return Character.toUpperCase(n.charAt(0)) + n.substring(1);
    }

    private static Member member(ClusterState s, String id) {
        return s.member(id).orElseThrow(() -> new IllegalStateException("transition names " + id
                + " which is not a member of " + s.members()));
    }

    private static List<String> ids(List<Member> members) {
        return members.stream().map(Member::id).toList();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
