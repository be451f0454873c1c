package dev.tandem.controller.engine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** The controller's metrics, named as in docs/conventions.md (Prometheus names in comments). */
public final class ControllerMetrics {

    private final MeterRegistry registry;
    private final Timer failoverDuration;
    final AtomicLong epoch = new AtomicLong();
    final AtomicLong healthyReplicas = new AtomicLong();
    final AtomicLong leaders = new AtomicLong();
    final AtomicLong active = new AtomicLong();

    public ControllerMetrics(MeterRegistry registry) {
        this.registry = registry;
        // tandem_controller_failover_duration_seconds (histogram)
        this.failoverDuration = Timer.builder("tandem.controller.failover.duration")
                .description("From the first failed probe of the old leader (or the signal) to the failover recorded done")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(10))
                .maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry);
        Gauge.builder("tandem.controller.epoch", epoch, AtomicLong::get)
                .description("Epoch recorded in the cluster state").register(registry);
        Gauge.builder("tandem.controller.healthy.replicas", healthyReplicas, AtomicLong::get)
                .description("Replicas that answered the latest status probe").register(registry);
        Gauge.builder("tandem.controller.leaders", leaders, AtomicLong::get)
                .description("Replicas claiming leadership in the newest epoch seen (more than 1 is a bug)").register(registry);
        Gauge.builder("tandem.controller.is.active", active, AtomicLong::get)
                .description("1 when this controller holds the Lease (or lock file) and acts").register(registry);
    }

    /** tandem_controller_failovers_total{reason} */
    public void failoverStarted(String reason) {
        Counter.builder("tandem.controller.failovers").description("Failovers started, by what triggered them")
                .tag("reason", reason).register(registry).increment();
    }

    /** tandem_controller_switchovers_total{reason} */
    public void switchoverStarted(String reason) {
        Counter.builder("tandem.controller.switchovers").description("Switchovers started, by why")
                .tag("reason", reason).register(registry).increment();
    }

    /** tandem_controller_blocked_decisions_total{reason}: counted once per episode, not per probe round. */
    public void blocked(String reason) {
        Counter.builder("tandem.controller.blocked.decisions").description("Times the controller had to wait instead of acting, by reason")
                .tag("reason", reason).register(registry).increment();
    }

    public void failoverDone(Duration d) {
        failoverDuration.record(d);
    }
}
