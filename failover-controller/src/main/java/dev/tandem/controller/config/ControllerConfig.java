package dev.tandem.controller.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Every {@code tandem.controller.*} key (docs/conventions.md, docs/failover.md). Raw values only:
 * {@link ControllerSettings#from} validates them all at start-up and lists every problem at once.
 */
@ConfigMapping(prefix = "tandem.controller")
public interface ControllerConfig {

    /** Replica list {@code id=host:port,...}; required with the file backend, ignored on Kubernetes. */
    Optional<String> replicas();

    State state();

    /** How often every replica is probed with AdminService.Status, in ms. */
    @WithDefault("100")
    long probeIntervalMs();

    /** Deadline of one Status probe, in ms: a hung replica must not stall the probe round. */
    @WithDefault("150")
    long probeTimeoutMs();

    /** Deadline of Promote / Follow / StepDown, in ms (they persist the epoch with fsync). */
    @WithDefault("1000")
    long commandTimeoutMs();

    /** Consecutive failed probes before the leader is declared failed. */
    @WithDefault("3")
    int failureThreshold();

    /** Promote even when no replica provably holds every acknowledged write. */
    @WithDefault("false")
    boolean allowUnsafeFailover();

    /**
     * The weakest write concern a write can be acknowledged with; must equal
     * {@code tandem.replica.min-write-concern}. Decides how many replicas must answer before a
     * promotion is provably safe (see docs/failover.md).
     */
    @WithDefault("one")
    String minWriteConcern();

    /**
     * A follower that reports streaming from the recorded leader with staleness at most this many
     * ms proves the leader alive even when the controller cannot reach it (the controller is the
     * one cut off), and failover waits.
     */
    @WithDefault("300")
    long leaderSeenMaxStalenessMs();

    /**
     * The longest failover waits on that evidence, in ms, counted from the first failed probe:
     * a paused leader keeps its followers' TCP streams open, so they cannot tell it from a live one.
     */
    @WithDefault("2000")
    long leaderSeenMaxWaitMs();

    /** How long a switchover waits for the candidate to catch up with the stepped-down leader, in ms. */
    @WithDefault("5000")
    long switchoverCatchUpTimeoutMs();

    /** Failover history entries kept in the cluster state (oldest dropped first). */
    @WithDefault("50")
    int historyMaxEntries();

    Kubernetes kubernetes();

    interface State {
        /** {@code file} (local cluster) or {@code kubernetes} (ConfigMap with compare-and-set). */
        @WithDefault("file")
        String backend();

        /** Cluster-state JSON file for the file backend. */
        Optional<Path> file();
    }

    interface Kubernetes {
        /** Helm release name: prefixes the ConfigMap, Lease and labels. */
        @WithDefault("tandem")
        String release();

        /** Namespace; default: the client's (the pod's own namespace in-cluster). */
        Optional<String> namespace();

        /** Replica gRPC/HTTP port when the pod does not name a container port {@code http}. */
        @WithDefault("8080")
        int replicaPort();

        /** This controller's identity in the Lease; default: the HOSTNAME (pod name). */
        Optional<String> identity();

        /** Lease duration, renew deadline and retry period, in ms (fabric8 LeaderElector). */
        @WithDefault("15000")
        long leaseDurationMs();

        @WithDefault("10000")
        long renewDeadlineMs();

        @WithDefault("2000")
        long retryPeriodMs();
    }
}
