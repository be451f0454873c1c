package dev.tandem.router.metrics;

import dev.tandem.router.routing.ReadPlan;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.TopologyService;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Singleton;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The router's metrics, named as docs/conventions.md fixes them (Micrometer adds {@code _total}
 * and {@code _seconds} in the Prometheus output). Meters are cached per label set because the read
 * path runs tens of thousands of times a second.
 */
@Singleton
public class RouterMetrics {

    private final MeterRegistry registry;
    private final Map<ReadPlan.FallbackReason, Counter> fallbacks = new EnumMap<>(ReadPlan.FallbackReason.class);
    private final Map<String, Counter> requests = new ConcurrentHashMap<>();
    private final Map<String, Timer> requestTimers = new ConcurrentHashMap<>();
    private final Timer addedLatency;
    private final Counter writeHandovers;

    public RouterMetrics(MeterRegistry registry, TopologyService topology) {
        this.registry = registry;
        for (ReadPlan.FallbackReason r : ReadPlan.FallbackReason.values()) {
            fallbacks.put(r, Counter.builder("tandem.router.leader.fallbacks")
                    .description("Reads served by the leader instead of a follower, by reason")
                    .tag("reason", r.label()).register(registry));
        }
        this.addedLatency = Timer.builder("tandem.router.added.latency")
                .description("Router time per request minus the time spent in replica calls")
                .publishPercentileHistogram().register(registry);
        this.writeHandovers = Counter.builder("tandem.router.write.handovers")
                .description("Writes in flight to a leader that the router abandoned and re-sent, with the same request id, "
                        + "to the leader of a higher epoch")
                .register(registry);
        Gauge.builder("tandem.router.known.leader.epoch", topology,
                        t -> t.current().leader().map(ReplicaView::epoch).orElse(0L))
                .description("Epoch of the leader the router currently sends writes to (0 = none known)")
                .register(registry);
    }

    public void leaderFallback(ReadPlan.FallbackReason reason) {
        fallbacks.get(reason).increment();
    }

    /** A write re-sent from the leader it was in flight to to a newer leader (see KvRouter#write). */
    public void writeHandover() {
        writeHandovers.increment();
    }

    /**
     * One finished request. {@code consistency} is "none" for writes and {@code servedRole} is
     * "none" when no replica answered (rejected by the router, or no leader).
     */
    public void request(String operation, String consistency, String servedRole, String outcome, long totalNanos, long replicaNanos) {
        String key = operation + '|' + consistency + '|' + servedRole + '|' + outcome;
        requests.computeIfAbsent(key, k -> Counter.builder("tandem.router.requests")
                .description("Requests by operation, consistency, the role that served them and outcome (ok or the error code)")
                .tag("operation", operation).tag("consistency", consistency)
                .tag("served_role", servedRole).tag("outcome", outcome)
                .register(registry)).increment();
        requestTimers.computeIfAbsent(operation, op -> Timer.builder("tandem.router.request")
                .description("Time from request to response, by operation")
                .tag("operation", op).publishPercentileHistogram().register(registry))
                .record(totalNanos, TimeUnit.NANOSECONDS);
        if (replicaNanos > 0) {
            addedLatency.record(Math.max(0, totalNanos - replicaNanos), TimeUnit.NANOSECONDS);
        }
    }
}
