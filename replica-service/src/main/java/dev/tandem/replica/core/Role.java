package dev.tandem.replica.core;

/**
 * Legal transitions. A command asking for any other one is refused with an error code naming
 * the state (commands are input from the controller or an operator, so never fatal):
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
