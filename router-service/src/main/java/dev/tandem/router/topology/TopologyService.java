package dev.tandem.router.topology;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.ReplicaAddress;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.router.config.RouterConfig;
import dev.tandem.router.config.RouterSettings;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Learns the replica set by polling every replica's {@code KvService.Info}. The router keeps no
 * other state: everything a session needs travels in its token, and everything the cluster decides
 * (who leads, in which epoch) is read back from the replicas, so any number of routers agree.
 *
 * <p>Routing by a picture up to one refresh old is safe because every read carries its requirement
 * (min position, staleness bound, leader-only) to the replica, which checks it against its own
 * state; a stale picture costs a retry or a fallback, never a wrong answer.
 */
@Singleton
public class TopologyService {

    private static final Logger LOG = Logger.getLogger(TopologyService.class);

    private final RouterSettings settings;
    private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tandem-topology");
        t.setDaemon(true);
        return t;
    });
    private volatile Topology current = new Topology(List.of());
    private volatile String lastLeaderLine = "";
    /** Callers waiting for a leader in a higher epoch (writes in flight); see {@link #leaderAbove}. */
    private final Set<LeaderWatch> leaderWatches = ConcurrentHashMap.newKeySet();

    /** One {@link #leaderAbove} caller: identity equality, so equal epochs are distinct watches. */
    private static final class LeaderWatch {
        final long epoch;
        final CompletableFuture<Topology> future = new CompletableFuture<>();

        LeaderWatch(long epoch) {
            this.epoch = epoch;
        }
    }

    /** Per-replica polling state; written only under {@code this} lock of the Tracked. */
    private static final class Tracked {
        final ReplicaEndpoint endpoint;
        final AtomicBoolean inFlight = new AtomicBoolean();
        volatile ReplicaInfo info;
        volatile EpochHistory history = EpochHistory.empty();
        volatile boolean healthy;
        volatile long lastSeenNanos;
        volatile String lastError = "not polled yet";

        Tracked(ReplicaEndpoint endpoint) {
            this.endpoint = endpoint;
        }
    }

    private final io.netty.channel.EventLoopGroup eventLoops;

    public TopologyService(RouterConfig config, io.vertx.core.Vertx vertx) {
        this.settings = RouterSettings.from(config);
        this.eventLoops = vertx.nettyEventLoopGroup();
        for (ReplicaAddress r : settings.replicas()) {
            tracked.put(r.id(), new Tracked(new ReplicaEndpoint(r.id(), r.host(), r.port(), eventLoops, settings.maxCallsInFlightPerReplica())));
        }
        rebuild();
    }

    void onStart(@Observes StartupEvent ev) {
        LOG.infof("router polling %d replicas every %d ms: %s", tracked.size(), settings.topologyRefreshMs(), settings.replicas());
        poller.scheduleWithFixedDelay(this::pollAll, 0, settings.topologyRefreshMs(), TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent ev) {
        poller.shutdownNow();
        tracked.values().forEach(t -> t.endpoint.close());
    }

    public RouterSettings settings() {
        return settings;
    }

    public Topology current() {
        return current;
    }

    public Optional<ReplicaEndpoint> endpoint(String id) {
        Tracked t = tracked.get(id);
        return t == null ? Optional.empty() : Optional.of(t.endpoint);
    }

    /**
     * The endpoint for a leader named in a NOT_LEADER answer: by id if known, else a new channel
     * to the hinted address (a replica that joined after the router started).
     */
    public Optional<ReplicaEndpoint> endpointForHint(String id, String address) {
        if (id != null && !id.isEmpty() && tracked.containsKey(id)) {
            return endpoint(id);
        }
        if (id == null || id.isEmpty() || address == null || address.isEmpty()) {
            return Optional.empty();
        }
        try {
            ReplicaAddress a = ReplicaAddress.ofAddress(id, address);
            Tracked t = tracked.computeIfAbsent(id, k -> {
                LOG.infof("learned replica %s at %s from a leader hint", id, address);
                return new Tracked(new ReplicaEndpoint(a.id(), a.host(), a.port(), eventLoops, settings.maxCallsInFlightPerReplica()));
            });
            return Optional.of(t.endpoint);
        } catch (IllegalArgumentException e) {
            LOG.warnf("ignoring leader hint %s=%s: %s", id, address, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Completes with the topology as soon as its write leader ({@link Topology#leader()}) is in an
     * epoch above {@code epoch}: at once if it already is, else from the poll that finds it. It
     * never completes otherwise; a caller that stops caring cancels it, which also forgets it.
     *
     * <p>Cheap enough for every write: registering and cancelling are two operations on a
     * concurrent set, and the set is only walked when a poll finds the leader's epoch rising,
     * which happens once per failover.
     */
    public CompletableFuture<Topology> leaderAbove(long epoch) {
        LeaderWatch w = new LeaderWatch(epoch);
        leaderWatches.add(w);
        w.future.whenComplete((t, e) -> leaderWatches.remove(w));
        // Added before reading current, and rebuild() publishes current before walking the set:
        // a rise that happens meanwhile is seen by one side or the other.
        Topology now = current;
        if (leaderEpoch(now) > epoch) {
            w.future.complete(now);
        }
        return w.future;
    }

    /** How many callers wait in {@link #leaderAbove} now: about as many as writes in flight, never more. */
    public int leaderWatchCount() {
        return leaderWatches.size();
    }

    private static long leaderEpoch(Topology t) {
        return t.leader().map(ReplicaView::epoch).orElse(0L);
    }

    /** Polls every replica now; completes when all answered or failed (at most one read timeout). */
    public CompletableFuture<Topology> refreshNow() {
        List<CompletableFuture<?>> polls = new ArrayList<>();
        for (Tracked t : tracked.values()) {
            polls.add(poll(t, true));
        }
        return CompletableFuture.allOf(polls.toArray(CompletableFuture[]::new)).handle((v, e) -> current);
    }

    private void pollAll() {
        try {
            for (Tracked t : tracked.values()) {
                poll(t, false);
            }
        } catch (RuntimeException e) {
            // The scheduler stops a task that throws; the router would go blind. Log and keep polling.
            LOG.error("topology poll failed", e);
        }
    }

    private CompletableFuture<?> poll(Tracked t, boolean force) {
        // One outstanding Info per replica: a hung replica must not pile up calls every refresh.
        if (!t.inFlight.compareAndSet(false, true)) {
            if (!force) {
                return CompletableFuture.completedFuture(null);
            }
        }
        return t.endpoint.info(settings.readTimeoutMs()).handle((info, err) -> {
            t.inFlight.set(false);
            if (err == null) {
                EpochHistory h;
                try {
                    h = EpochHistory.fromProto(info.getHistoryList());
                } catch (IllegalArgumentException e) {
                    h = null;
                    markDown(t, "replica reported an invalid epoch history: " + e.getMessage());
                }
                if (h != null) {
                    t.info = info;
                    t.history = h;
                    t.healthy = true;
                    t.lastSeenNanos = System.nanoTime();
                    t.lastError = "";
                    learnLeader(info);
                }
            } else {
                markDown(t, describe(err));
            }
            rebuild();
            return null;
        });
    }

    private void markDown(Tracked t, String why) {
        if (t.healthy) {
            LOG.warnf("replica %s at %s unreachable: %s", t.endpoint.id(), t.endpoint.address(), why);
        }
        t.healthy = false;
        t.lastError = why;
    }

    private void learnLeader(ReplicaInfo info) {
        if (!info.getLeaderId().isEmpty() && !info.getLeaderAddress().isEmpty() && !tracked.containsKey(info.getLeaderId())) {
            endpointForHint(info.getLeaderId(), info.getLeaderAddress());
        }
    }

    private void rebuild() {
        Topology next;
        List<LeaderWatch> fire = List.of();
        synchronized (this) {
            List<ReplicaView> views = new ArrayList<>();
            for (Tracked t : tracked.values()) {
                views.add(new ReplicaView(t.endpoint.id(), t.endpoint.address(), t.info, t.history, t.healthy, t.lastSeenNanos, t.lastError));
            }
            views.sort((a, b) -> a.id().compareTo(b.id()));
            next = new Topology(views);
            long before = leaderEpoch(current);
            current = next;
            String line = next.leader().map(l -> l.id() + " epoch " + l.epoch()).orElse("none");
            if (!line.equals(lastLeaderLine)) {
                lastLeaderLine = line;
                LOG.infof("leader is now %s (highest epoch seen %d)", line, next.highestEpoch());
            }
            long after = leaderEpoch(next);
            if (after > before && !leaderWatches.isEmpty()) {
                fire = new ArrayList<>();
                for (LeaderWatch w : leaderWatches) {
                    if (w.epoch < after) {
                        fire.add(w);
                    }
                }
            }
        }
        // Outside the lock: completing runs the waiters' reactions (a write's hand-over) here.
        for (LeaderWatch w : fire) {
            w.future.complete(next);
        }
    }

    public static String describe(Throwable err) {
        Throwable t = err;
        while (t.getCause() != null && !(t instanceof io.grpc.StatusRuntimeException)) {
            t = t.getCause();
        }
        return t instanceof io.grpc.StatusRuntimeException s ? s.getStatus().getCode() + ": " + s.getStatus().getDescription() : String.valueOf(t);
    }
}
