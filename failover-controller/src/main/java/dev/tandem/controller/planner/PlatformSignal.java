package dev.tandem.controller.planner;

/** What the platform (Kubernetes) says about a replica's pod, beyond our own probes. */
public enum PlatformSignal {
    /** Pod deleted (or being deleted): its process is going away whatever probes say. */
    DELETED,
    /** Pod not ready: counts only together with a failed probe (readiness also drops when a leader's lease lapses). */
    NOT_READY
}
