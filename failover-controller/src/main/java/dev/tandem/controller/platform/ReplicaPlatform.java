package dev.tandem.controller.platform;

import dev.tandem.controller.model.Member;
import dev.tandem.controller.planner.PlatformSignal;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Everything the controller needs from where the replicas run. On Kubernetes: pods found by
 * label, informer signals, the {@code tandem.dev/role} label and Events. Locally: the static
 * replica list, no signals (the supervisor restarts processes; probes see it), roles and events
 * in the log. The controller logic is the same on both.
 */
public interface ReplicaPlatform extends AutoCloseable {

    /** Replicas that exist now (id and current address). */
    List<Member> replicas();

    /** Pods deleted or not ready, among {@code memberIds} (a member whose pod is gone counts as deleted). */
    Map<String, PlatformSignal> signals(Collection<String> memberIds);

    /**
     * Makes the role labels say {@code leader} for {@code leader} and {@code follower} for every
     * other member; idempotent, touches only what differs, demotes before it promotes so that
     * the read-write Service never selects two pods.
     */
    void applyRoles(String leader, Collection<String> memberIds);

    /** A Kubernetes Event (type Normal or Warning) about {@code replicaId} (null: the cluster). */
    void event(String replicaId, String type, String reason, String message);

    @Override
    void close();
}
