package dev.tandem.controller.planner;

import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import java.util.List;
import java.util.Map;

/**
 * One round's observations. {@code state} is null before bootstrap. {@code views} has an entry
 * for every member (unreachable ones included); {@code signals} only for pods the platform
 * reports as deleted or not ready.
 */
public record PlannerInput(long nowMs, ClusterState state, List<Member> members, Map<String, ReplicaView> views,
                           Map<String, PlatformSignal> signals) {

    public PlannerInput {
        members = List.copyOf(members);
        views = Map.copyOf(views);
        signals = Map.copyOf(signals);
        for (Member m : members) {
            if (!views.containsKey(m.id())) {
                throw new IllegalArgumentException("no view of member " + m.id());
            }
        }
    }
}
