package dev.tandem.controller.model;

/**
 * The recorded progress of a transition. Each step is done, then recorded with compare-and-set;
 * a controller that dies re-does at most the step after the recorded one, which is why every
 * step is idempotent on the replicas (Promote/Follow/StepDown of the same epoch).
 * <pre>
 *   RECORDED   new epoch and leader persisted (nothing sent yet)
 *   FENCED     failover: every other replica told to follow the new epoch (cut off from the old
 *              leader), positions read again, maybe retargeted to a new epoch; switchover: old
 *              leader stepped down (required)
 *   CAUGHT_UP  switchover only: candidate flushed everything the old leader had
 *   PROMOTED   candidate leads the new epoch
 *   FOLLOWING  the others were told to follow it (unreachable ones are reconciled later)
 *   RELABELED  pod role labels point the -rw/-ro Services at the new roles
 * </pre>
 * Completion clears the in-progress record and appends to the history. Not every step costs a
 * state write: every RELABELED is only logged (repeating them is
 * harmless), which keeps fsyncs or API-server round trips off the path to accepting writes; the
 * RECORDED write is the one that can never be skipped (it burns the epoch before anyone hears it).
 */
public enum Step {
    RECORDED,
    FENCED,
    CAUGHT_UP,
    PROMOTED,
    FOLLOWING,
    RELABELED;

    public boolean atLeast(Step other) {
        return compareTo(other) >= 0;
    }
}
