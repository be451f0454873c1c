package dev.tandem.controller.platform;

import dev.tandem.controller.model.Member;
import dev.tandem.controller.planner.PlatformSignal;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The local cluster: a fixed replica list ({@code tandem.controller.replicas}). There are no pods,
 * so no signals (probes alone detect failure), no labels to set (the router follows replica
 * Info), and events go to the log in the same form as on Kubernetes.
 */
public final class LocalReplicaPlatform implements ReplicaPlatform {

    private static final Logger LOG = Logger.getLogger("dev.tandem.controller.events");

    private final List<Member> replicas;
    private final Map<String, String> roles = new ConcurrentHashMap<>();

    public LocalReplicaPlatform(List<Member> replicas) {
        this.replicas = List.copyOf(replicas);
    }

    @Override
    public List<Member> replicas() {
        return replicas;
    }

    @Override
    public Map<String, PlatformSignal> signals(Collection<String> memberIds) {
        return Map.of();
    }

    @Override
    public void applyRoles(String leader, Collection<String> memberIds) {
        for (String id : memberIds) {
            String role = id.equals(leader) ? "leader" : "follower";
            String old = roles.put(id, role);
            if (!role.equals(old)) {
                LOG.infof("role %s=%s (was %s)", id, role, old);
            }
        }
    }

    /** What {@link #applyRoles} last set, for tests and the state endpoint. */
    public Map<String, String> roles() {
        return Map.copyOf(roles);
    }

    @Override
    public void event(String replicaId, String type, String reason, String message) {
        if ("Warning".equals(type)) {
            LOG.warnf("event %s %s replica=%s: %s", type, reason, replicaId, message);
        } else {
            LOG.infof("event %s %s replica=%s: %s", type, reason, replicaId, message);
        }
    }

    @Override
    public void close() {}
}
