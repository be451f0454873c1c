package dev.tandem.replica.node;

import dev.tandem.replica.config.ClusterConfig;
import dev.tandem.replica.config.ReplicaConfig;
import dev.tandem.replica.config.ReplicaSettings;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.time.Clock;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Opens the store and starts the driver when Quarkus starts; an invalid configuration or an
 * unreadable disk stops start-up with the reason. Handlers reach the node through {@link #node()}.
 */
@Singleton
public class ReplicaLifecycle {

    private final ReplicaConfig config;
    private final ClusterConfig cluster;
    private final MeterRegistry registry;
    private final int httpPort;
    private volatile ReplicaNode node;
    private volatile ReplicaMetrics metrics;

    public ReplicaLifecycle(ReplicaConfig config, ClusterConfig cluster, MeterRegistry registry,
                            @ConfigProperty(name = "quarkus.http.port", defaultValue = "8080") int httpPort) {
        this.config = config;
        this.cluster = cluster;
        this.registry = registry;
        this.httpPort = httpPort;
    }

    void onStart(@Observes StartupEvent ev) {
        ReplicaSettings settings = ReplicaSettings.from(config, cluster, httpPort);
        ReplicaNode n = new ReplicaNode(settings, Clock.systemUTC());
        metrics = new ReplicaMetrics(registry, n::view, n.changeFeed());
        n.start(metrics);
        node = n;
    }

    void onStop(@Observes ShutdownEvent ev) {
        ReplicaNode n = node;
        if (n != null) {
            n.close();
        }
    }

    /** The running node, or null while starting. */
    public ReplicaNode node() {
        return node;
    }

    public ReplicaMetrics metrics() {
        return metrics;
    }
}
