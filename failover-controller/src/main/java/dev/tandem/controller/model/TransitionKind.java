package dev.tandem.controller.model;

/** Why leadership moves: first leader, unplanned failover, planned switchover. */
public enum TransitionKind {
    BOOTSTRAP,
    FAILOVER,
    SWITCHOVER
}
