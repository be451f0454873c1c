package dev.tandem.controller.planner;

import dev.tandem.controller.model.Transition;
import java.util.List;

/** What the planner wants done this round. The driver performs it; the planner does no I/O. */
public sealed interface Decision {

    /** Nothing to do (e.g. not enough information yet, but nothing wrong either). */
    record Idle(String why) implements Decision {}

    /**
     * Something is wrong and acting would be unsafe or impossible: wait and say why.
     * {@code reason} is the metric label (tandem_controller_blocked_decisions_total{reason}).
     */
    record Blocked(String reason, String detail) implements Decision {}

    /** Leader healthy; these replicas must be told to follow it in the recorded epoch. */
    record Reconcile(List<String> follow) implements Decision {}

    /** No state, but a replica already leads the newest epoch: record it, change nothing. */
    record Adopt(long epoch, String leader) implements Decision {}

    /** Begin a transition (bootstrap or failover). */
    record Begin(Transition transition) implements Decision {}

    /** A transition is recorded in progress: carry on from its step. */
    record Resume(Transition transition) implements Decision {}

    /** The transition cannot finish (its target failed before leading): give it up; its epoch stays burned. */
    record Abort(Transition transition, String why) implements Decision {}
}
