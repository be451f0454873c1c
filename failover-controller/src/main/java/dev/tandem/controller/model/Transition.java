package dev.tandem.controller.model;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A leadership change in progress, as recorded in the cluster state.
 *
 * @param id          failover id carried by every log line, event and replica command
 * @param epoch       the new epoch; never reused, even when the transition is aborted
 * @param from        previous leader, null on bootstrap
 * @param to          the replica being promoted
 * @param fencedLsn   switchover: the old leader's last lsn after it stepped down (the catch-up target)
 * @param detectedAtMs when the problem was first seen (first failed probe), for the duration metric
 * @param mayLose     unsafe failover only: the lsn range that may be lost, for the operator
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Transition(String id, TransitionKind kind, String reason, long epoch, String from, String to,
                         Step step, long startedAtMs, long detectedAtMs, long fencedLsn, String mayLose) {

    public Transition at(Step next) {
        return new Transition(id, kind, reason, epoch, from, to, next, startedAtMs, detectedAtMs, fencedLsn, mayLose);
    }

    public Transition withFencedLsn(long lsn) {
        return new Transition(id, kind, reason, epoch, from, to, step, startedAtMs, detectedAtMs, lsn, mayLose);
    }

    /**
     * Retarget in a fresh, higher epoch. Failover, after the cut-off: every reachable replica
     * already knows {@link #epoch} (they were told to follow it). Switchover fallback: the old
     * leader, still leading its old epoch, was told to follow {@link #epoch} (a replica leads
     * again only through a promotion to an epoch it has never seen), and is promoted in the next.
     */
    public Transition retargetInEpoch(String newTo, long newEpoch, Step newStep) {
        if (newEpoch <= epoch) {
            throw new IllegalArgumentException("retarget of " + id + " must raise the epoch: " + newEpoch + " <= " + epoch);
        }
        return new Transition(id, kind, reason, newEpoch, from, newTo, newStep, startedAtMs, detectedAtMs, fencedLsn, mayLose);
    }

    /** The same transition with {@code reason} extended (a switchover that fell back says why). */
    public Transition withReason(String newReason) {
        return new Transition(id, kind, newReason, epoch, from, to, step, startedAtMs, detectedAtMs, fencedLsn, mayLose);
    }
}
