package dev.tandem.controller.config;

import dev.tandem.common.ClusterSecret;
import dev.tandem.common.WriteConcerns;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.planner.Policy;
import dev.tandem.proto.WriteConcern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The validated configuration of the controller. Built once at start-up; an invalid value stops
 * the process with every problem listed, rather than failing at the first failover.
 */
public record ControllerSettings(
        List<Member> replicas,
        Backend backend,
        Path stateFile,
        Duration probeInterval,
        Duration probeTimeout,
        Duration commandTimeout,
        int failureThreshold,
        boolean allowUnsafeFailover,
        WriteConcern minWriteConcern,
        long leaderSeenMaxStalenessMs,
        long leaderSeenMaxWaitMs,
        Duration switchoverCatchUpTimeout,
        int historyMaxEntries,
        String release,
        String namespace,
        int replicaPort,
        String identity,
        Duration leaseDuration,
        Duration renewDeadline,
        Duration retryPeriod,
        ClusterSecret secret) {

    public enum Backend { FILE, KUBERNETES }

    public Policy policy() {
        return new Policy(failureThreshold, minWriteConcern, allowUnsafeFailover, leaderSeenMaxStalenessMs, leaderSeenMaxWaitMs);
    }

    public static ControllerSettings from(ControllerConfig c, ClusterConfig cluster) {
        List<String> problems = new ArrayList<>();
        Backend backend = null;
        switch (c.state().backend().trim().toLowerCase(Locale.ROOT)) {
            case "file" -> backend = Backend.FILE;
            case "kubernetes" -> backend = Backend.KUBERNETES;
            default -> problems.add("tandem.controller.state.backend must be file or kubernetes, got '" + c.state().backend() + "'");
        }
        List<Member> replicas = List.of();
        try {
            replicas = Member.parseList(c.replicas().orElse(""));
        } catch (IllegalArgumentException e) {
            problems.add("tandem.controller.replicas: " + e.getMessage());
        }
        Path stateFile = c.state().file().orElse(null);
        if (backend == Backend.FILE) {
            if (replicas.isEmpty()) {
                problems.add("tandem.controller.replicas is required with the file backend (id=host:port,...)");
            }
            if (stateFile == null) {
                problems.add("tandem.controller.state.file is required with the file backend");
            }
        }
        positive("tandem.controller.probe-interval-ms", c.probeIntervalMs(), problems);
        positive("tandem.controller.probe-timeout-ms", c.probeTimeoutMs(), problems);
        positive("tandem.controller.command-timeout-ms", c.commandTimeoutMs(), problems);
        positive("tandem.controller.failure-threshold", c.failureThreshold(), problems);
        positive("tandem.controller.switchover-catch-up-timeout-ms", c.switchoverCatchUpTimeoutMs(), problems);
        positive("tandem.controller.history-max-entries", c.historyMaxEntries(), problems);
        if (c.leaderSeenMaxWaitMs() < 0) {
            problems.add("tandem.controller.leader-seen-max-wait-ms must be >= 0");
        }
        if (c.leaderSeenMaxStalenessMs() < 0) {
            problems.add("tandem.controller.leader-seen-max-staleness-ms must be >= 0");
        }
        WriteConcern concern = null;
        try {
            concern = WriteConcerns.parse(c.minWriteConcern());
        } catch (IllegalArgumentException e) {
            problems.add("tandem.controller.min-write-concern: " + e.getMessage());
        }
        var k = c.kubernetes();
        positive("tandem.controller.kubernetes.replica-port", k.replicaPort(), problems);
        if (k.renewDeadlineMs() >= k.leaseDurationMs()) {
            problems.add("tandem.controller.kubernetes.renew-deadline-ms must be shorter than lease-duration-ms, "
                    + "or two controllers could act at once");
        }
        if (k.retryPeriodMs() >= k.renewDeadlineMs()) {
            problems.add("tandem.controller.kubernetes.retry-period-ms must be shorter than renew-deadline-ms");
        }
        ClusterSecret secret = null;
        try {
            secret = ClusterSecret.load(cluster.secret(), cluster.secretFile());
        } catch (RuntimeException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid failover-controller configuration:\n  - " + String.join("\n  - ", problems));
        }
        String identity = k.identity().orElseGet(() -> {
            String host = System.getenv("HOSTNAME");
            return host == null || host.isBlank() ? "controller-" + ProcessHandle.current().pid() : host;
        });
        return new ControllerSettings(replicas, backend, stateFile, Duration.ofMillis(c.probeIntervalMs()),
                Duration.ofMillis(c.probeTimeoutMs()), Duration.ofMillis(c.commandTimeoutMs()), c.failureThreshold(),
                c.allowUnsafeFailover(), concern, c.leaderSeenMaxStalenessMs(), c.leaderSeenMaxWaitMs(),
                Duration.ofMillis(c.switchoverCatchUpTimeoutMs()), c.historyMaxEntries(), k.release(),
                k.namespace().orElse(null), k.replicaPort(), identity, Duration.ofMillis(k.leaseDurationMs()),
                Duration.ofMillis(k.renewDeadlineMs()), Duration.ofMillis(k.retryPeriodMs()), secret);
    }

    private static void positive(String key, long value, List<String> problems) {
        if (value <= 0) {
            problems.add(key + " must be > 0, got " + value);
        }
    }
}
