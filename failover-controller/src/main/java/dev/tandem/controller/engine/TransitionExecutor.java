package dev.tandem.controller.engine;

import dev.tandem.common.LogPosition;
import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.HistoryEntry;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import dev.tandem.controller.platform.ReplicaPlatform;
import dev.tandem.controller.replica.CommandOutcome;
import dev.tandem.controller.replica.ReplicaAdmin;
import dev.tandem.controller.state.CasConflictException;
import dev.tandem.controller.state.ClusterStateStore;
import dev.tandem.controller.state.StoredState;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.StatusResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import org.jboss.logging.Logger;

/**
 * Carries a recorded transition through its steps (see {@link Step}): do the step, then record it
 * with compare-and-set. Every step is idempotent on the replicas (same epoch), so a controller
 * that takes over after a crash re-does at most one step and finishes the job.
 *
 * <p>Order, and why: the new epoch is persisted before any replica hears of it (so the epoch is
 * never reused, whatever happens next); the old leader is fenced before the new one is promoted
 * (so that, if it is alive at all, it stops acknowledging writes the new leader will not have);
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
                Transition next = fence(s, t);
                if (t.kind() != TransitionKind.SWITCHOVER) {
                    // Failover fencing is best effort and repeatable: not worth a state write
                    // (an fsync, or an API-server round trip) on the path to accepting writes.
                    log(t, "fenced " + (t.from() == null ? "(no previous leader)" : t.from()));
                    event(t, "Normal", "Fenced", "fenced " + (t.from() == null ? "(no previous leader)" : t.from()));
                    return advanceFrom(stored, next.at(Step.CAUGHT_UP));
                }
                return record(stored, next.at(Step.FENCED), "fenced " + t.from() + " at lsn " + next.fencedLsn());
            }
            case FENCED -> {
                if (t.kind() == TransitionKind.SWITCHOVER) {
                    Transition next = catchUp(s, t);
                    return record(stored, next, next.to().equals(t.to())
                            ? "caught up: " + t.to() + " flushed lsn " + t.fencedLsn()
                            : "FALLBACK: " + t.to() + " did not catch up to lsn " + t.fencedLsn() + " within "
                              + settings.switchoverCatchUpTimeout().toMillis() + " ms; re-promoting " + t.from());
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

    private Transition fence(ClusterState s, Transition t) throws StepFailedException {
        if (t.from() == null || t.from().equals(t.to())) {
            return t;
        }
        Member old = s.member(t.from()).orElse(null);
        if (old == null) {
            return t;
        }
        long oldEpoch = t.epoch() - 1; // StepDown of an epoch the replica has left is FENCED: fine, it is fenced
        if (t.kind() == TransitionKind.SWITCHOVER) {
            // Zero loss needs the old leader to stop writing before we measure what to catch up to.
            CommandOutcome r = admin.stepDown(old, 0, t.id(), settings.commandTimeout());
            if (!r.ok()) {
                log(t, "old leader " + t.from() + " did not step down (" + r + "); switching over to nobody, re-promoting it");
                return t.retarget(t.from(), Step.RECORDED).withFencedLsn(0);
            }
            return t.withFencedLsn(r.last().lsn());
        }
        // Failover: best effort. The old leader is most likely dead; if it is alive but cut off
        // from us, its own lease stops its writes, and the epoch fences it when it comes back.
        CommandOutcome r = admin.stepDown(old, 0, t.id(), settings.probeTimeout());
        log(t, "fence " + t.from() + " (was leader of epoch " + oldEpoch + "): " + r);
        return t;
    }

    private Transition catchUp(ClusterState s, Transition t) throws StepFailedException {
        if (t.to().equals(t.from())) {
            return t.at(Step.CAUGHT_UP); // fallback target: it has everything it wrote
        }
        Member candidate = member(s, t.to());
        long deadline = clock.millis() + settings.switchoverCatchUpTimeout().toMillis();
        long flushed = -1;
        while (clock.millis() < deadline) {
            try {
                StatusResponse r = admin.status(candidate, settings.probeTimeout()).get();
                flushed = r.getInfo().getFlushedLsn();
                if (flushed >= t.fencedLsn()) {
                    return t.at(Step.CAUGHT_UP);
                }
            } catch (Exception e) {
                // keep polling until the deadline: a probe can fail once without the candidate being gone
            }
            sleep(CATCH_UP_POLL_MS);
        }
        log(t, t.to() + " flushed " + flushed + " < " + t.fencedLsn() + " at the deadline");
        return t.retarget(t.from(), Step.CAUGHT_UP);
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
        String outcome = t.kind() == TransitionKind.SWITCHOVER && t.to().equals(t.from()) ? "fallback: leader unchanged" : "done";
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
