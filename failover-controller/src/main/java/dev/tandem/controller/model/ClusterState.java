package dev.tandem.controller.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the controller persists (ConfigMap {@code <release>-cluster-state} key {@code state.json},
 * or the local file): the epoch, its leader, the members, the transition in progress and the
 * history. Immutable; every change is a new value written with compare-and-set.
 *
 * <p>Invariant: {@code epoch} only grows, and a transition's epoch equals {@code epoch} while it
 * is in progress, so an epoch is recorded before any replica is told about it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ClusterState(long epoch, String leader, List<Member> members, Transition inProgress,
                           List<HistoryEntry> history) {

    public ClusterState {
        members = List.copyOf(members == null ? List.of() : members);
        history = List.copyOf(history == null ? List.of() : history);
        if (epoch < 0) {
            throw new IllegalArgumentException("negative epoch " + epoch);
        }
        if (inProgress != null && inProgress.epoch() != epoch) {
            throw new IllegalStateException("transition " + inProgress.id() + " has epoch " + inProgress.epoch()
                    + " but the state records " + epoch);
        }
    }

    public Optional<Member> member(String id) {
        return members.stream().filter(m -> m.id().equals(id)).findFirst();
    }

    public ClusterState withMembers(List<Member> next) {
        return new ClusterState(epoch, leader, next, inProgress, history);
    }

    /** Records a new transition: its epoch and target become the state's epoch and leader. */
    public ClusterState begin(Transition t) {
        if (inProgress != null) {
            throw new IllegalStateException("transition " + inProgress.id() + " still in progress, cannot begin " + t.id());
        }
        if (t.epoch() <= epoch) {
            throw new IllegalStateException("epoch must grow: state has " + epoch + ", transition " + t.id() + " wants " + t.epoch());
        }
        return new ClusterState(t.epoch(), t.to(), members, t, history);
    }

    /**
     * Records the progress of the transition in progress. Its epoch may grow (a failover that
     * retargets after the cut-off burns a further epoch), never shrink.
     */
    public ClusterState progress(Transition t) {
        if (inProgress == null || !inProgress.id().equals(t.id())) {
            throw new IllegalStateException("transition " + t.id() + " is not the one in progress (" + inProgress + ")");
        }
        if (t.epoch() < epoch) {
            throw new IllegalStateException("epoch must not shrink: state has " + epoch + ", transition " + t.id()
                    + " wants " + t.epoch());
        }
        return new ClusterState(t.epoch(), t.to(), members, t, history);
    }

    /** Clears the transition and appends it to the history (bounded to {@code maxHistory} entries). */
    public ClusterState finish(HistoryEntry entry, int maxHistory) {
        List<HistoryEntry> h = new ArrayList<>(history);
        h.add(entry);
        while (h.size() > maxHistory) {
            h.remove(0);
        }
        return new ClusterState(epoch, leader, members, null, h);
    }

    /** Aborted transition: its epoch stays burned, the leader field keeps the transition's target. */
    public ClusterState abort(HistoryEntry entry, int maxHistory) {
        return finish(entry, maxHistory);
    }
}
