package dev.tandem.controller.model;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One finished (or aborted) transition, kept in the cluster state for operators. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record HistoryEntry(String id, TransitionKind kind, String reason, long epoch, String from, String to,
                           long startedAtMs, long finishedAtMs, String outcome, String mayLose) {

    public static HistoryEntry of(Transition t, long finishedAtMs, String outcome) {
        return new HistoryEntry(t.id(), t.kind(), t.reason(), t.epoch(), t.from(), t.to(), t.startedAtMs(),
                finishedAtMs, outcome, t.mayLose());
    }
}
