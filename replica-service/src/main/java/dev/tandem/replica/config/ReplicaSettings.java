package dev.tandem.replica.config;

import dev.tandem.common.ClusterSecret;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.WriteConcern;
import dev.tandem.replica.core.CoreConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The validated, resolved configuration of one replica. Built once at start-up; an invalid value
 * stops the process with every problem listed, rather than failing later on the first request.
 */
public record ReplicaSettings(
        String id,
        Path dataDir,
        String advertisedAddress,
        WriteConcern defaultWriteConcern,
        WriteConcern minWriteConcern,
        long leaseMs,
        long heartbeatIntervalMs,
        long confirmTimeoutMs,
        int maxKeyBytes,
        int maxValueBytes,
        int maxBatchOps,
        long maxBatchBytes,
        long readyMaxLagEntries,
        long maxInFlightBytes,
        long maxRetainedEntries,
        int idempotencyWindowEntries,
        long idempotencyWindowMs,
        int inboxCapacity,
        int maxScanLimit,
        long maxScanPageBytes,
        long maxReadWaitMs,
        int changeFeedMaxSubscribers,
        long changeFeedMaxPendingBytes,
        long changeFeedHeartbeatMs,
        ClusterSecret secret) {

    /** Validates {@code c}; {@code httpPort} fills the default advertised address. */
    public static ReplicaSettings from(ReplicaConfig c, ClusterConfig cluster, int httpPort) {
        List<String> problems = new ArrayList<>();
        WriteConcern def = concern("tandem.replica.default-write-concern", c.defaultWriteConcern(), problems);
        WriteConcern min = concern("tandem.replica.min-write-concern", c.minWriteConcern(), problems);
        if (c.id().isBlank() || !c.id().matches("[A-Za-z0-9._-]{1,63}")) {
            problems.add("tandem.replica.id must be 1-63 characters of [A-Za-z0-9._-], got '" + c.id() + "'");
        }
        positive("tandem.replica.lease-ms", c.leaseMs(), problems);
        positive("tandem.replica.heartbeat-interval-ms", c.heartbeatIntervalMs(), problems);
        if (c.heartbeatIntervalMs() >= c.leaseMs()) {
            problems.add("tandem.replica.heartbeat-interval-ms (" + c.heartbeatIntervalMs()
                    + ") must be shorter than tandem.replica.lease-ms (" + c.leaseMs() + ")");
        }
        positive("tandem.replica.confirm-timeout-ms", c.confirmTimeoutMs(), problems);
        positive("tandem.replica.max-key-bytes", c.maxKeyBytes(), problems);
        if (c.maxKeyBytes() > 65535) {
            // Keys are length-prefixed with 16 bits in undo records.
            problems.add("tandem.replica.max-key-bytes must be <= 65535, got " + c.maxKeyBytes());
        }
        positive("tandem.replica.max-value-bytes", c.maxValueBytes(), problems);
        positive("tandem.replica.max-batch-ops", c.maxBatchOps(), problems);
        positive("tandem.replica.max-batch-bytes", c.maxBatchBytes(), problems);
        positive("tandem.replica.ready-max-lag-entries", c.readyMaxLagEntries(), problems);
        positive("tandem.replica.max-in-flight-bytes", c.maxInFlightBytes(), problems);
        positive("tandem.replica.max-retained-entries", c.maxRetainedEntries(), problems);
        positive("tandem.replica.idempotency-window-entries", c.idempotencyWindowEntries(), problems);
        positive("tandem.replica.idempotency-window-ms", c.idempotencyWindowMs(), problems);
        positive("tandem.replica.inbox-capacity", c.inboxCapacity(), problems);
        positive("tandem.replica.max-scan-limit", c.maxScanLimit(), problems);
        positive("tandem.replica.max-scan-page-bytes", c.maxScanPageBytes(), problems);
        positive("tandem.replica.change-feed.max-subscribers", c.changeFeedMaxSubscribers(), problems);
        positive("tandem.replica.change-feed.max-pending-bytes", c.changeFeedMaxPendingBytes(), problems);
        positive("tandem.replica.change-feed.heartbeat-ms", c.changeFeedHeartbeatMs(), problems);
        if (c.maxReadWaitMs() < 0) {
            problems.add("tandem.replica.max-read-wait-ms must be >= 0");
        }
        if (c.maxInFlightBytes() < c.maxBatchBytes()) {
            problems.add("tandem.replica.max-in-flight-bytes must hold at least one batch (max-batch-bytes)");
        }
        String address = c.advertisedAddress().orElse("127.0.0.1:" + httpPort);
        if (!address.matches("[^:\\s]+:\\d{1,5}")) {
            problems.add("tandem.replica.advertised-address must be host:port, got '" + address + "'");
        }
        ClusterSecret secret = null;
        try {
            secret = ClusterSecret.load(cluster.secret(), cluster.secretFile());
        } catch (RuntimeException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid replica configuration:\n  - " + String.join("\n  - ", problems));
        }
        return new ReplicaSettings(c.id(), c.dataDir().toAbsolutePath(), address, def, min, c.leaseMs(),
                c.heartbeatIntervalMs(), c.confirmTimeoutMs(), c.maxKeyBytes(), c.maxValueBytes(), c.maxBatchOps(),
                c.maxBatchBytes(), c.readyMaxLagEntries(), c.maxInFlightBytes(), c.maxRetainedEntries(),
                c.idempotencyWindowEntries(), c.idempotencyWindowMs(), c.inboxCapacity(), c.maxScanLimit(),
                c.maxScanPageBytes(), c.maxReadWaitMs(), c.changeFeedMaxSubscribers(), c.changeFeedMaxPendingBytes(),
                c.changeFeedHeartbeatMs(), secret);
    }

    public CoreConfig coreConfig() {
        return new CoreConfig(leaseMs, heartbeatIntervalMs, minWriteConcern, maxInFlightBytes, maxRetainedEntries);
    }

    private static WriteConcern concern(String key, String text, List<String> problems) {
        try {
            return WriteConcerns.parse(text);
        } catch (IllegalArgumentException e) {
            problems.add(key + ": " + e.getMessage());
            return WriteConcern.WRITE_CONCERN_ONE;
        }
    }

    private static void positive(String key, long value, List<String> problems) {
        if (value <= 0) {
            problems.add(key + " must be > 0, got " + value);
        }
    }
}
