package dev.tandem.controller.engine;

import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.leadership.ControllerLeadership;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.HistoryEntry;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import dev.tandem.controller.planner.Decision;
import dev.tandem.controller.planner.FailoverPlanner;
import dev.tandem.controller.planner.PlannerInput;
import dev.tandem.controller.planner.PlatformSignal;
import dev.tandem.controller.planner.ReplicaView;
import dev.tandem.controller.platform.ReplicaPlatform;
import dev.tandem.controller.replica.CommandOutcome;
import dev.tandem.controller.replica.ReplicaAdmin;
import dev.tandem.controller.state.CasConflictException;
import dev.tandem.controller.state.ClusterStateStore;
import dev.tandem.controller.state.StoredState;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.StatusResponse;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * The controller's driver: observe, plan, act, every probe interval, on one thread that owns all
 * mutable state (probe counters, the cached cluster state). Admin requests (switchover) run on
 * the same thread, so a switchover and a failover can never interleave.
 *
 * <p>Only the active controller (Lease or lock file) plans and acts; a standby keeps probing so
 * its metrics are live and it can act on its very first round after taking over, starting with
 * a fresh read of the cluster state (which is how it finishes a transition its predecessor left
 * half-done).
 */
public final class ControllerLoop implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ControllerLoop.class);

    private final ControllerSettings settings;
    private final ClusterStateStore store;
    private final ReplicaPlatform platform;
    private final ReplicaAdmin admin;
    private final ControllerLeadership leadership;
    private final ControllerMetrics metrics;
    private final Clock clock;
    private final FailoverPlanner planner;
    private final ScheduledExecutorService loop;
    /** Set by {@link #start}: only the running loop schedules its own extra rounds (tests call tick()). */
    private volatile boolean started;
    private final AtomicBoolean reprobeScheduled = new AtomicBoolean();
    private final ExecutorService fanOut;
    private final TransitionExecutor executor;

    // ---- owned by the loop thread ----
    private final Map<String, ReplicaView> views = new LinkedHashMap<>();
    private List<Member> members = List.of();
    private StoredState stored;
    private boolean wasActive;
    private String lastBlocked;
    private volatile long lastTickDoneMs;
    private volatile Snapshot snapshot = new Snapshot(false, null, Map.of());

    /** What the admin API shows; replaced as a whole after each round. */
    public record Snapshot(boolean active, ClusterState state, Map<String, ReplicaView> replicas) {}

    public ControllerLoop(ControllerSettings settings, ClusterStateStore store, ReplicaPlatform platform, ReplicaAdmin admin,
                          ControllerLeadership leadership, ControllerMetrics metrics, Clock clock) {
        this.settings = settings;
        this.store = store;
        this.platform = platform;
        this.admin = admin;
        this.leadership = leadership;
        this.metrics = metrics;
        this.clock = clock;
        this.planner = new FailoverPlanner(settings.policy());
        AtomicInteger n = new AtomicInteger();
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "tandem-controller-loop"));
        this.fanOut = Executors.newCachedThreadPool(r -> daemon(r, "tandem-controller-rpc-" + n.incrementAndGet()));
        this.executor = new TransitionExecutor(store, admin, platform, settings, metrics, clock, fanOut);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    public void start() {
        started = true;
        leadership.start();
        loop.scheduleWithFixedDelay(this::tickSafely, 0, settings.probeInterval().toMillis(), TimeUnit.MILLISECONDS);
        LOG.infof("controller %s started: state in %s, probing every %d ms, failure threshold %d, min write concern %s",
                leadership.identity(), store.describe(), settings.probeInterval().toMillis(), settings.failureThreshold(),
                settings.minWriteConcern());
    }

    /** Wakes the loop now (a platform signal arrived) instead of at the next interval. */
    public void nudge() {
        loop.execute(this::tickSafely);
    }

    public Snapshot snapshot() {
        return snapshot;
    }

    public long lastTickDoneMs() {
        return lastTickDoneMs;
    }

    private void tickSafely() {
        try {
            tick();
        } catch (RuntimeException e) {
            // An unexpected failure of one round (API server hiccup, I/O error) must not stop the
            // loop: log it and try again next round, with the state re-read.
            LOG.errorf(e, "controller round failed; retrying next round");
            stored = null;
            wasActive = false;
        } finally {
            lastTickDoneMs = clock.millis();
        }
    }

    void tick() {
        members = mergeMembers();
        probeAll();
        boolean active = leadership.isActive();
        metrics.active.set(active ? 1 : 0);
        if (!active) {
            wasActive = false;
            snapshot = new Snapshot(false, stored == null ? null : stored.state(), Map.copyOf(views));
            return;
        }
        if (!wasActive || stored == null) {
            stored = store.read().orElse(null);
            wasActive = true;
        }
        syncMembers();
        Map<String, PlatformSignal> signals = platform.signals(members.stream().map(Member::id).toList());
        Decision d = planner.plan(new PlannerInput(clock.millis(), stored == null ? null : stored.state(), members,
                views, signals));
        act(d);
        metrics.epoch.set(stored == null ? 0 : stored.state().epoch());
        snapshot = new Snapshot(true, stored == null ? null : stored.state(), Map.copyOf(views));
        reprobeSuspectLeader();
    }

    /**
     * A leader that failed a probe (but fewer than failure-threshold in a row) is probed again
     * after a quarter of the probe interval, not a whole one: a killed leader refuses connections
     * at once, and this takes detection from ~300 ms to ~100 ms at the defaults. A hung leader
     * still needs failure-threshold probes of probe-timeout-ms each.
     */
    private void reprobeSuspectLeader() {
        String leader = stored == null ? null : stored.state().leader();
        ReplicaView v = leader == null ? null : views.get(leader);
        if (started && v != null && !v.reachable() && v.consecutiveFailures() < settings.failureThreshold()
                && reprobeScheduled.compareAndSet(false, true)) {
            loop.schedule(() -> {
                reprobeScheduled.set(false);
                tickSafely();
            }, Math.max(1, settings.probeInterval().toMillis() / 4), TimeUnit.MILLISECONDS);
        }
    }

    /** Members = what the platform lists now, plus every member recorded (a deleted pod is still a member). */
    private List<Member> mergeMembers() {
        Map<String, Member> byId = new LinkedHashMap<>();
        if (stored != null) {
            for (Member m : stored.state().members()) {
                byId.put(m.id(), m);
            }
        }
        for (Member m : platform.replicas()) {
            byId.put(m.id(), m); // the platform knows the current address
        }
        return new ArrayList<>(byId.values());
    }

    private void syncMembers() {
        if (stored == null || stored.state().inProgress() != null || stored.state().members().equals(members)) {
            return;
        }
        try {
            stored = store.compareAndSet(stored.version(), stored.state().withMembers(members));
            LOG.infof("members now %s", members);
        } catch (CasConflictException e) {
            conflict(e);
        }
    }

    /** One Status probe per member, in parallel, each bounded by the probe timeout. */
    private void probeAll() {
        long now = clock.millis();
        Map<String, Probe> probes = probeOnce(members);
        if (Thread.currentThread().isInterrupted()) {
            return;
        }
        Map<String, ReplicaView> next = new LinkedHashMap<>();
        for (Member m : members) {
            ReplicaView prev = views.get(m.id());
            Probe p = probes.get(m.id());
            if (p.view() != null) {
                next.put(m.id(), p.view().answered());
                continue;
            }
            String failure = p.failure();
            int failures = prev == null ? 1 : prev.consecutiveFailures() + 1;
            long firstAt = prev == null || prev.reachable() ? now : prev.firstFailureAtMs();
            if (failures == 1 || failures == settings.failureThreshold() || failures % 100 == 0) {
                LOG.infof("probe of %s failed (%d in a row): %s", m.id(), failures, failure);
            }
            next.put(m.id(), ReplicaView.unreachable(m.id(), failures, firstAt, prev));
        }
        views.clear();
        views.putAll(next);
        long healthy = views.values().stream().filter(ReplicaView::reachable).count();
        long newest = views.values().stream().filter(ReplicaView::reachable).mapToLong(ReplicaView::epoch).max().orElse(0);
        long leaders = views.values().stream().filter(v -> v.isLeaderOf(newest)).count();
        metrics.healthyReplicas.set(healthy);
        metrics.leaders.set(leaders);
    }

    private void act(Decision d) {
        if (!(d instanceof Decision.Blocked)) {
            lastBlocked = null;
        }
        try {
            if (d instanceof Decision.Blocked b) {
                blocked(b);
            } else if (d instanceof Decision.Reconcile r) {
                reconcile(r);
            } else if (d instanceof Decision.Adopt a) {
                adopt(a);
            } else if (d instanceof Decision.Begin b) {
                Transition t = b.transition();
                if (t.kind() == TransitionKind.FAILOVER) {
                    metrics.failoverStarted(t.reason());
                }
                stored = executor.begin(stored, t, members);
                stored = executor.run(stored);
            } else if (d instanceof Decision.Resume r) {
                LOG.infof("resuming %s %s at step %s", r.transition().kind(), r.transition().id(), r.transition().step());
                stored = executor.run(stored);
            } else if (d instanceof Decision.Abort a) {
                stored = executor.abort(stored, a.why());
            }
        } catch (CasConflictException e) {
            conflict(e);
        } catch (StepFailedException e) {
            LOG.warnf("step failed, retrying next round: %s", e.getMessage());
        }
    }

    private void blocked(Decision.Blocked b) {
        if (Objects.equals(lastBlocked, b.reason())) {
            return; // one episode, one log line, one event, one count
        }
        lastBlocked = b.reason();
        metrics.blocked(b.reason());
        LOG.warnf("waiting instead of acting (%s): %s", b.reason(), b.detail());
        platform.event(null, "Warning", "FailoverBlocked", b.reason() + ": " + b.detail());
    }

    private void reconcile(Decision.Reconcile r) {
        ClusterState s = stored.state();
        Member leader = s.member(s.leader()).orElseThrow();
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        for (String id : r.follow()) {
            Member m = members.stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow();
            calls.add(CompletableFuture.runAsync(() -> {
                CommandOutcome o = admin.follow(m, s.epoch(), leader, members, "reconcile-e" + s.epoch(), settings.commandTimeout());
                LOG.infof("reconcile epoch=%d: told %s to follow %s: %s", s.epoch(), id, leader.id(), o);
            }, fanOut));
        }
        calls.forEach(CompletableFuture::join);
        platform.applyRoles(s.leader(), members.stream().map(Member::id).toList());
    }

    private void adopt(Decision.Adopt a) throws CasConflictException {
        long now = clock.millis();
        HistoryEntry h = new HistoryEntry("adopt-e" + a.epoch() + "-" + Long.toString(now, 36), TransitionKind.BOOTSTRAP,
                "adopted_running_leader", a.epoch(), null, a.leader(), now, now, "done", null);
        stored = store.compareAndSet(stored == null ? null : stored.version(),
                new ClusterState(a.epoch(), a.leader(), members, null, List.of(h)));
        LOG.infof("no cluster state: adopted %s, already leading epoch %d", a.leader(), a.epoch());
        platform.event(a.leader(), "Normal", "BootstrapAdopted", "adopted " + a.leader() + " as leader of epoch " + a.epoch());
    }

    private void conflict(CasConflictException e) {
        LOG.warnf("cluster state changed under us (%s); re-reading and planning again", e.getMessage());
        stored = store.read().orElse(null);
    }

    // ---- switchover ---------------------------------------------------------------------------

    /**
     * Planned move of leadership to {@code to} (or, if null or blank, the most advanced follower):
     * step the leader down, wait for the candidate to flush everything it had, promote, point the
     * others. Runs on the loop thread, so it never interleaves with a failover.
     */
    public SwitchoverResult switchover(String to, long waitMs) {
        long start = clock.millis();
        Future<SwitchoverResult> f = loop.submit((Callable<SwitchoverResult>) () -> doSwitchover(to, start));
        try {
            return f.get(waitMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return SwitchoverResult.of(500, "pending", null, 0, null, to, "still running after " + waitMs
                    + " ms; see the cluster state (GET /v1/admin/state)").with(null, clock.millis() - start);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return SwitchoverResult.of(500, "interrupted", null, 0, null, to, "interrupted");
        } catch (ExecutionException e) {
            LOG.errorf(e.getCause(), "switchover to %s failed", to);
            return SwitchoverResult.of(500, "failed", null, 0, null, to, String.valueOf(e.getCause()));
        }
    }

    /** One fresh Status answer, or why there is none. */
    private record Probe(ReplicaView view, String failure) {}

    /**
     * Status of every member now (the round's views may be a probe interval old), in parallel, at
     * the probe deadline. A replica is only taken as down after {@code failure-threshold} failed
     * probes in a row, a probe interval apart, as the failure detector does: one lost probe (a
     * loaded machine, a transport hiccup) must not refuse a switchover.
     */
    private Map<String, Probe> probeNow(List<Member> of) {
        Map<String, Probe> out = probeOnce(of);
        for (int attempt = 1; attempt < settings.failureThreshold(); attempt++) {
            List<Member> failed = of.stream().filter(m -> out.get(m.id()).view() == null).toList();
            if (failed.isEmpty()) {
                break;
            }
            try {
                Thread.sleep(settings.probeInterval().toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            out.putAll(probeOnce(failed));
        }
        return out;
    }

    private Map<String, Probe> probeOnce(List<Member> of) {
        Map<String, CompletableFuture<StatusResponse>> calls = new LinkedHashMap<>();
        for (Member m : of) {
            calls.put(m.id(), admin.status(m, settings.probeTimeout()));
        }
        Map<String, Probe> out = new LinkedHashMap<>();
        for (Map.Entry<String, CompletableFuture<StatusResponse>> c : calls.entrySet()) {
            String failure;
            try {
                StatusResponse r = c.getValue().get(settings.probeTimeout().toMillis() + 50, TimeUnit.MILLISECONDS);
                if (!r.hasError() || r.getError().getCode() == ErrorCode.OK) {
                    out.put(c.getKey(), new Probe(ReplicaView.of(r.getInfo()), null));
                    continue;
                }
                failure = r.getError().getCode() + ": " + r.getError().getMessage();
            } catch (ExecutionException e) {
                failure = String.valueOf(e.getCause().getMessage());
            } catch (TimeoutException e) {
                failure = "no answer within " + settings.probeTimeout().toMillis() + " ms";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = "interrupted";
            }
            out.put(c.getKey(), new Probe(null, failure));
        }
        return out;
    }

    /** Echo of an operator-supplied id in a message: bounded, printable. */
    private static String quote(String s) {
        String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
        return "'" + cut.replaceAll("[^\\x20-\\x7e]", "?") + "'";
    }

    private SwitchoverResult doSwitchover(String requested, long startMs) {
        String to = requested == null || requested.isBlank() ? null : requested.trim();
        if (!leadership.isActive()) {
            return SwitchoverResult.of(503, "not_active", null, 0, null, to,
                    "controller " + leadership.identity() + " is a standby; ask the active controller");
        }
        if (stored == null || stored.state().leader() == null) {
            return SwitchoverResult.of(409, "refused", null, 0, null, to, "no leader recorded yet (cluster not bootstrapped)");
        }
        ClusterState s = stored.state();
        if (s.inProgress() != null) {
            return SwitchoverResult.of(409, "refused", s.inProgress().id(), s.epoch(), s.inProgress().from(), s.inProgress().to(),
                    "transition " + s.inProgress().id() + " is in progress (step " + s.inProgress().step() + "); retry when it is done");
        }
        List<String> ids = s.members().stream().map(Member::id).toList();
        if (to != null && s.member(to).isEmpty()) {
            return SwitchoverResult.of(400, "unknown_replica", null, s.epoch(), s.leader(), null,
                    "no replica named " + quote(to) + "; the members are " + String.join(", ", ids));
        }
        if (to != null && to.equals(s.leader())) {
            return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), to, to + " already leads epoch " + s.epoch()
                    + "; name one of its followers, or leave out 'to' to move leadership to the most advanced one");
        }
        Map<String, Probe> now = probeNow(s.members());
        List<ReplicaView> followers = now.values().stream().map(Probe::view)
                .filter(v -> v != null && v.followsIn(s.epoch(), s.leader()))
                .sorted(FailoverPlanner.RANKING.reversed()).toList();
        String ranked = String.join(" ", followers.stream().map(v -> v.id() + "=" + v.flushed()
                + (v.streaming() ? "" : "(not streaming)")).toList());
        SwitchoverResult r = doSwitchover(s, to, now, followers);
        return r.with(ranked, clock.millis() - startMs);
    }

    private SwitchoverResult doSwitchover(ClusterState s, String to, Map<String, Probe> now, List<ReplicaView> followers) {
        Probe leader = now.get(s.leader());
        if (leader == null || leader.view() == null) {
            return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), to, "leader " + s.leader() + " does not answer ("
                    + (leader == null ? "not a member" : leader.failure()) + "); a switchover needs a live leader (failover handles a failed one)");
        }
        if (!leader.view().isLeaderOf(s.epoch())) {
            ReplicaView v = leader.view();
            return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), to, "leader " + s.leader() + " is not leading epoch "
                    + s.epoch() + " right now (" + v.role() + " in epoch " + v.epoch() + "); failover handles that");
        }
        if (to == null) {
            ReplicaView best = followers.stream().filter(ReplicaView::streaming).findFirst().orElse(null);
            if (best == null) {
                return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), null, "no follower is streaming from "
                        + s.leader() + " in epoch " + s.epoch() + " right now: " + describe(now));
            }
            to = best.id();
        } else {
            Probe p = now.get(to);
            if (p.view() == null) {
                return SwitchoverResult.of(409, "target_unavailable", null, s.epoch(), s.leader(), to, to + " does not answer ("
                        + p.failure() + "); nothing was changed, " + s.leader() + " still leads epoch " + s.epoch());
            }
            ReplicaView c = p.view();
            if (!c.followsIn(s.epoch(), s.leader())) {
                return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), to, to + " is not following " + s.leader()
                        + " in epoch " + s.epoch() + " (" + c.role() + (c.leaderId().isEmpty() ? "" : " of " + c.leaderId())
                        + " in epoch " + c.epoch() + "); nothing was changed");
            }
            if (!c.streaming()) {
                return SwitchoverResult.of(409, "refused", null, s.epoch(), s.leader(), to, to + " follows " + s.leader()
                        + " but is not streaming from it right now (flushed " + c.flushed() + "); retry once it is; nothing was changed");
            }
        }
        long t0 = clock.millis();
        long epoch = s.epoch();
        for (ReplicaView v : views.values()) {
            epoch = Math.max(epoch, v.epoch());
        }
        for (Probe p : now.values()) {
            epoch = Math.max(epoch, p.view() == null ? 0 : p.view().epoch());
        }
        epoch++;
        Transition t = new Transition("switchover-e" + epoch + "-" + Long.toString(t0, 36), TransitionKind.SWITCHOVER,
                "requested", epoch, s.leader(), to, Step.RECORDED, t0, t0, 0, null);
        metrics.switchoverStarted("requested");
        try {
            stored = executor.begin(stored, t, members);
            stored = executor.run(stored);
        } catch (CasConflictException e) {
            conflict(e);
            return SwitchoverResult.of(409, "conflict", t.id(), epoch, t.from(), to, "cluster state changed: " + e.getMessage());
        } catch (StepFailedException e) {
            LOG.warnf("switchover %s stopped half-way, the controller carries on with it: %s", t.id(), e.getMessage());
            return SwitchoverResult.of(500, "incomplete", t.id(), epoch, t.from(), to,
                    e.getMessage() + "; the controller keeps trying (see the cluster state)");
        }
        ClusterState done = stored.state();
        HistoryEntry h = done.history().get(done.history().size() - 1);
        if (to.equals(done.leader())) {
            return SwitchoverResult.of(200, "done", t.id(), done.epoch(), t.from(), to, to + " leads epoch " + done.epoch()
                    + "; " + t.from() + " follows it");
        }
        return SwitchoverResult.of(409, "fallback", t.id(), done.epoch(), t.from(), done.leader(), h.reason() + "; "
                + done.leader() + " leads again, in epoch " + done.epoch() + " (" + h.outcome() + "), no acknowledged write lost");
    }

    private static String describe(Map<String, Probe> now) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Probe> e : now.entrySet()) {
            ReplicaView v = e.getValue().view();
            out.add(e.getKey() + "=" + (v == null ? "unreachable (" + e.getValue().failure() + ")"
                    : v.role() + " epoch " + v.epoch() + (v.leaderId().isEmpty() ? "" : " of " + v.leaderId())
                      + (v.streaming() ? " streaming" : "")));
        }
        return String.join(", ", out);
    }

    @Override
    public void close() {
        loop.shutdownNow();
        try {
            loop.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        fanOut.shutdownNow();
        leadership.close();
    }

    /** Runs one round now, on the loop thread, and waits for it (tests drive rounds this way). */
    public void runRound() throws Exception {
        loop.submit(this::tick).get();
    }
}
