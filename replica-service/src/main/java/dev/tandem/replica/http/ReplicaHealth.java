package dev.tandem.replica.http;

import dev.tandem.replica.core.CoreStatus;
import dev.tandem.replica.core.Role;
import dev.tandem.replica.node.NodeView;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * Liveness: the driver publishes its view (it does every few ms; a stuck driver stops doing so).
 * Readiness: can serve its role: a leader holding its lease, or a follower streaming from its
 * leader within {@code tandem.replica.ready-max-lag-entries}. An unassigned replica is not ready.
 */
public final class ReplicaHealth {

    /** The driver is considered stuck when its view is older than this, in ms. */
    static final long STUCK_AFTER_MS = 5000;

    private ReplicaHealth() {}

    @Liveness
    @ApplicationScoped
    public static class Live implements HealthCheck {
        private final ReplicaLifecycle lifecycle;

        public Live(ReplicaLifecycle lifecycle) {
            this.lifecycle = lifecycle;
        }

        @Override
        public HealthCheckResponse call() {
            ReplicaNode node = lifecycle.node();
            HealthCheckResponseBuilder b = HealthCheckResponse.named("replica-driver");
            if (node == null) {
                return b.up().withData("state", "starting").build();
            }
            long age = node.nowMs() - node.view().publishedAtMs();
            return b.status(age < STUCK_AFTER_MS).withData("viewAgeMs", age).build();
        }
    }

    @Readiness
    @ApplicationScoped
    public static class Ready implements HealthCheck {
        private final ReplicaLifecycle lifecycle;

        public Ready(ReplicaLifecycle lifecycle) {
            this.lifecycle = lifecycle;
        }

        @Override
        public HealthCheckResponse call() {
            ReplicaNode node = lifecycle.node();
            HealthCheckResponseBuilder b = HealthCheckResponse.named("replica-role");
            if (node == null) {
                return b.down().withData("reason", "starting").build();
            }
            NodeView v = node.view();
            CoreStatus s = v.status();
            b.withData("role", s.role().name()).withData("epoch", s.epoch()).withData("appliedLsn", v.appliedLsn());
            if (s.role() == Role.LEADER) {
                return b.status(s.acceptingWrites()).withData("reason", s.acceptingWrites() ? "leader holding its lease"
                        : "leader without lease or stepping down").build();
            }
            if (s.role() == Role.FOLLOWER) {
                long lag = Math.max(0, s.leaderLastLsn() - v.appliedLsn());
                boolean ok = s.streaming() && lag <= node.settings().readyMaxLagEntries();
                return b.status(ok).withData("lagEntries", lag).withData("streaming", s.streaming()).build();
            }
            return b.down().withData("reason", "unassigned: waiting for promote or follow").build();
        }
    }
}
