package dev.tandem.router.health;

import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import dev.tandem.router.topology.TopologyService;
import jakarta.inject.Singleton;
import java.util.stream.Collectors;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready while the router reaches at least one replica (its last topology poll of that replica
 * succeeded): a router that reaches none can only answer 503, so Kubernetes should send clients
 * to a router that can serve them, as with a router cut off from the replicas by a network or
 * policy problem of its own. When every router reaches none (the whole replica set is down), the
 * Service has no ready endpoints until one comes back; the replicas' own readiness says why.
 */
@Readiness
@Singleton
public class RouterReadiness implements HealthCheck {

    private final TopologyService topology;

    public RouterReadiness(TopologyService topology) {
        this.topology = topology;
    }

    @Override
    public HealthCheckResponse call() {
        Topology t = topology.current();
        String reachable = t.replicas().stream().filter(ReplicaView::healthy).map(ReplicaView::id).collect(Collectors.joining(","));
        return HealthCheckResponse.named("replicas-reachable")
                .status(!reachable.isEmpty())
                .withData("reachable", reachable.isEmpty() ? "none" : reachable)
                .withData("leader", t.leader().map(ReplicaView::id).orElse("none"))
                .build();
    }
}
