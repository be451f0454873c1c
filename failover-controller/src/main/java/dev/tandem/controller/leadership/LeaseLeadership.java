package dev.tandem.controller.leadership;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * Kubernetes mode: the controller holding Lease {@code <release>-controller} acts (fabric8
 * LeaderElector with a LeaseLock, wrapped as Strimzi's LeaderElectionManager does). The elector
 * gives up leadership when it cannot renew within the renew deadline, which is shorter than the
 * lease, so two controllers never act at once; the cluster-state compare-and-set and the
 * replicas' epoch fencing catch anything that slips through anyway.
 */
public final class LeaseLeadership implements ControllerLeadership {

    private static final Logger LOG = Logger.getLogger(LeaseLeadership.class);

    private final KubernetesClient client;
    private final String namespace;
    private final String leaseName;
    private final String identity;
    private final Duration leaseDuration;
    private final Duration renewDeadline;
    private final Duration retryPeriod;
    private volatile boolean active;
    private volatile String currentLeader;
    private CompletableFuture<?> running;

    public LeaseLeadership(KubernetesClient client, String namespace, String release, String identity,
                           Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {
        this.client = client;
        this.namespace = namespace;
        this.leaseName = release + "-controller";
        this.identity = identity;
        this.leaseDuration = leaseDuration;
        this.renewDeadline = renewDeadline;
        this.retryPeriod = retryPeriod;
    }

    @Override
    public synchronized void start() {
        var config = new LeaderElectionConfigBuilder()
                .withName(leaseName)
                .withLock(new LeaseLock(namespace, leaseName, identity))
                .withLeaseDuration(leaseDuration)
                .withRenewDeadline(renewDeadline)
                .withRetryPeriod(retryPeriod)
                .withReleaseOnCancel(true)
                .withLeaderCallbacks(new LeaderCallbacks(
                        () -> {
                            active = true;
                            LOG.infof("controller %s is active (holds Lease %s/%s)", identity, namespace, leaseName);
                        },
                        () -> {
                            active = false;
                            LOG.infof("controller %s lost Lease %s/%s: standby", identity, namespace, leaseName);
                        },
                        leader -> {
                            currentLeader = leader;
                            LOG.infof("Lease %s/%s is held by %s", namespace, leaseName, leader);
                        }))
                .build();
        running = client.leaderElector().withConfig(config).build().start();
    }

    @Override
    public boolean isActive() {
        return active;
    }

    /** Who holds the Lease as last seen (may be another controller). */
    public String currentLeader() {
        return currentLeader;
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public synchronized void close() {
        active = false;
        if (running != null) {
            running.cancel(true); // releaseOnCancel: a standby takes over without waiting out the lease
        }
    }
}
