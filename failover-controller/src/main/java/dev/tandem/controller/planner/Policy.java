package dev.tandem.controller.planner;

import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.WriteConcern;

/** The knobs the planner decides with (from ControllerSettings). */
public record Policy(int failureThreshold, WriteConcern minWriteConcern, boolean allowUnsafeFailover,
                     long leaderSeenMaxStalenessMs, long leaderSeenMaxWaitMs) {

    public Policy {
        if (failureThreshold < 1) {
            throw new IllegalArgumentException("failure threshold must be >= 1, got " + failureThreshold);
        }
    }

    /**
     * How many replicas must answer before the most advanced of them provably holds every
     * acknowledged write. A write acknowledged with the minimum concern is on {@code c} replicas;
     * any {@code n - c + 1} replicas include at least one of them (pigeonhole). With
     * {@code majority} that is a majority; with {@code one} on three replicas it is two.
     */
    public int safeQuorum(int members) {
        int copies = Math.min(members, WriteConcerns.requiredCopies(minWriteConcern, members));
        return Math.max(1, members - copies + 1);
    }

    public static int majority(int members) {
        return members / 2 + 1;
    }
}
