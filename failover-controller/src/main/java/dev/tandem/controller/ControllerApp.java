package dev.tandem.controller;

import dev.tandem.controller.config.ClusterConfig;
import dev.tandem.controller.config.ControllerConfig;
import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.engine.ControllerLoop;
import dev.tandem.controller.engine.ControllerMetrics;
import dev.tandem.controller.leadership.ControllerLeadership;
import dev.tandem.controller.leadership.LeaseLeadership;
import dev.tandem.controller.leadership.LockFileLeadership;
import dev.tandem.controller.platform.KubernetesReplicaPlatform;
import dev.tandem.controller.platform.LocalReplicaPlatform;
import dev.tandem.controller.platform.ReplicaPlatform;
import dev.tandem.controller.replica.GrpcReplicaAdmin;
import dev.tandem.controller.state.ClusterStateStore;
import dev.tandem.controller.state.FileClusterStateStore;
import dev.tandem.controller.state.KubernetesClusterStateStore;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Wires the controller from its configuration at start-up. The Kubernetes client is touched only
 * with {@code tandem.controller.state.backend=kubernetes}, so the local cluster runs without any
 * Kubernetes around.
 */
@ApplicationScoped
public class ControllerApp {

    @Inject
    ControllerConfig config;

    @Inject
    ClusterConfig cluster;

    @Inject
    MeterRegistry registry;

    @Inject
    Instance<KubernetesClient> kubernetes;

    private ControllerSettings settings;
    private ControllerLoop loop;

    void onStart(@Observes StartupEvent ev) {
        settings = ControllerSettings.from(config, cluster);
        Clock clock = Clock.systemUTC();
        ClusterStateStore store;
        ReplicaPlatform platform;
        ControllerLeadership leadership;
        AtomicReference<ControllerLoop> ref = new AtomicReference<>();
        if (settings.backend() == ControllerSettings.Backend.KUBERNETES) {
            KubernetesClient client = kubernetes.get();
            String ns = settings.namespace() != null ? settings.namespace()
                    : client.getNamespace() != null ? client.getNamespace() : "default";
            store = new KubernetesClusterStateStore(client, ns, settings.release());
            platform = new KubernetesReplicaPlatform(client, ns, settings.release(), settings.replicaPort(), settings.identity(),
                    clock, () -> {
                        ControllerLoop l = ref.get();
                        if (l != null) {
                            l.nudge(); // a pod went away or turned unready: look now, not at the next interval
                        }
                    });
            leadership = new LeaseLeadership(client, ns, settings.release(), settings.identity(), settings.leaseDuration(),
                    settings.renewDeadline(), settings.retryPeriod());
        } else {
            Path file = settings.stateFile();
            store = new FileClusterStateStore(file);
            platform = new LocalReplicaPlatform(settings.replicas());
            leadership = new LockFileLeadership(file.resolveSibling(file.getFileName() + ".lock"), settings.identity());
        }
        loop = new ControllerLoop(settings, store, platform, new GrpcReplicaAdmin(settings.secret()), leadership,
                new ControllerMetrics(registry), clock);
        ref.set(loop);
        loop.start();
    }

    void onStop(@Observes ShutdownEvent ev) {
        if (loop != null) {
            loop.close();
        }
    }

    public ControllerLoop loop() {
        return loop;
    }

    public ControllerSettings settings() {
        return settings;
    }
}
