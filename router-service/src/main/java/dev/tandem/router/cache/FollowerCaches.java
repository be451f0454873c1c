package dev.tandem.router.cache;

import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.ChangesRequest;
import dev.tandem.proto.Role;
import dev.tandem.router.topology.ReplicaEndpoint;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.TopologyService;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One {@link ReadCache} per follower, each fed by that follower's change stream. The streams
 * follow the topology: every healthy follower has one; a replica that stops being a follower (it
 * was promoted, or it is unreachable) loses its stream and its cache. A stream that ends is opened
 * again by the next reconciliation, with an empty cache.
 *
 * <p>Disabled ({@code tandem.router.read-cache-max-bytes=0}): no streams, and every lookup misses.
 */
@Singleton
public class FollowerCaches {

    private static final Logger LOG = Logger.getLogger(FollowerCaches.class);

    /** How often the streams are matched to the topology, in ms: also the fastest re-subscription after a stream ends. */
    private static final long RECONCILE_INTERVAL_MS = 250;

    private final TopologyService topology;
    private final long maxBytesPerFollower;
    private final long maxSilenceNanos;
    private final int heartbeatMs;
    private final Map<String, Stream> streams = new ConcurrentHashMap<>();
    private final ScheduledExecutorService reconciler;
    private final Counter hits;
    private final Counter misses;
    private final Counter streamsEnded;

    public FollowerCaches(TopologyService topology, MeterRegistry registry) {
        this.topology = topology;
        this.maxBytesPerFollower = topology.settings().readCacheMaxBytes();
        long maxSilenceMs = topology.settings().readCacheMaxSilenceMs();
        this.maxSilenceNanos = TimeUnit.MILLISECONDS.toNanos(maxSilenceMs);
        // Four heartbeats per silence allowed: one lost or late heartbeat does not stop the cache.
        this.heartbeatMs = (int) Math.max(1, maxSilenceMs / 4);
        this.reconciler = enabled() ? Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tandem-read-cache");
            t.setDaemon(true);
            return t;
        }) : null;
        this.hits = Counter.builder("tandem.router.read.cache.lookups").tag("result", "hit")
                .description("Reads the router considered answering from a follower's read cache, by result").register(registry);
        this.misses = Counter.builder("tandem.router.read.cache.lookups").tag("result", "miss")
                .description("Reads the router considered answering from a follower's read cache, by result").register(registry);
        this.streamsEnded = Counter.builder("tandem.router.read.cache.streams.ended")
                .description("Follower change streams that ended (truncation, reader behind, follower gone); each empties its cache")
                .register(registry);
        Gauge.builder("tandem.router.read.cache.bytes", this, c -> c.streams.values().stream().mapToLong(s -> s.cache.bytes()).sum())
                .description("Bytes held by the read caches of all followers (keys, values and per-entry overhead)")
                .baseUnit("bytes").register(registry);
        Gauge.builder("tandem.router.read.cache.entries", this, c -> c.streams.values().stream().mapToLong(s -> s.cache.entries()).sum())
                .description("Keys held by the read caches of all followers").register(registry);
    }

    public boolean enabled() {
        return maxBytesPerFollower > 0;
    }

    void onStart(@Observes StartupEvent ev) {
        if (enabled()) {
            reconciler.scheduleWithFixedDelay(this::reconcile, 0, RECONCILE_INTERVAL_MS, TimeUnit.MILLISECONDS);
        }
    }

    void onStop(@Observes ShutdownEvent ev) {
        if (enabled()) {
            reconciler.shutdownNow();
            streams.values().forEach(Stream::cancel);
        }
    }

    /** The cache of this follower while its stream is live, else empty. */
    public Optional<ReadCache> of(String replicaId) {
        Stream s = streams.get(replicaId);
        return s == null || !s.cache.following(System.nanoTime(), maxSilenceNanos) ? Optional.empty() : Optional.of(s.cache);
    }

    public long maxSilenceNanos() {
        return maxSilenceNanos;
    }

    public void recordLookup(boolean hit) {
        (hit ? hits : misses).increment();
    }

    private void reconcile() {
        try {
            for (ReplicaView v : topology.current().replicas()) {
                boolean wanted = v.healthy() && v.role() == Role.ROLE_FOLLOWER;
                Stream s = streams.get(v.id());
                if (wanted && (s == null || s.ended)) {
                    topology.endpoint(v.id()).ifPresent(ep -> streams.put(v.id(), open(ep)));
                } else if (!wanted && s != null) {
                    streams.remove(v.id());
                    s.cancel();
                }
            }
        } catch (RuntimeException e) {
            // A task that throws is never run again: the caches would stop following the topology.
            LOG.error("read cache reconciliation failed", e);
        }
    }

    private Stream open(ReplicaEndpoint ep) {
        Stream s = new Stream(new ReadCache(ep.id(), maxBytesPerFollower));
        ep.changes(ChangesRequest.newBuilder().setHeartbeatMs(heartbeatMs).build(), s);
        return s;
    }

    /** One follower's change stream and the cache it feeds; its callbacks run on a transport thread. */
    private final class Stream implements ClientResponseObserver<ChangesRequest, ChangeEvent> {
        final ReadCache cache;
        volatile boolean ended;
        private volatile ClientCallStreamObserver<ChangesRequest> call;
        private boolean started;

        Stream(ReadCache cache) {
            this.cache = cache;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<ChangesRequest> call) {
            this.call = call;
        }

        @Override
        public void onNext(ChangeEvent event) {
            long now = System.nanoTime();
            try {
                if (!started) {
                    started = true;
                    cache.start(event, now);
                } else {
                    cache.apply(event, now);
                }
            } catch (IllegalArgumentException e) {
                LOG.warnf("read cache of %s: dropping its change stream, which sent an invalid event: %s", cache.replicaId(), e.getMessage());
                cancel();
            }
        }

        @Override
        public void onError(Throwable t) {
            end("ended: " + TopologyService.describe(t));
        }

        @Override
        public void onCompleted() {
            end("completed by the replica");
        }

        private void end(String why) {
            if (!ended) {
                ended = true;
                cache.stop();
                streamsEnded.increment();
                LOG.debugf("read cache of %s emptied: change stream %s", cache.replicaId(), why);
            }
        }

        void cancel() {
            ClientCallStreamObserver<ChangesRequest> c = call;
            if (c != null) {
                c.cancel("the router no longer follows this replica's changes", null);
            }
            end("cancelled by the router");
        }
    }
}
