package dev.tandem.replica.core;

/**
 * Legal transitions (anything else throws IllegalStateException naming the state):
 * <pre>
 *   UNASSIGNED --promote(e > epoch)--> LEADER        UNASSIGNED --follow(e >= epoch)--> FOLLOWER
 *   FOLLOWER   --promote(e > epoch)--> LEADER        FOLLOWER   --follow(e >= epoch)--> FOLLOWER (new leader)
 *   LEADER     --follow(e > epoch)---> FOLLOWER      LEADER     --stepDown-----------> LEADER, writes stopped
 *   restart of a LEADER -----------> UNASSIGNED (waits for the controller; never resumes leading by itself)
 *   restart of a FOLLOWER ---------> FOLLOWER of the same leader and epoch
 * </pre>
 */
public enum Role {
    UNASSIGNED,
    LEADER,
    FOLLOWER
}
