package dev.tandem.replica.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Every setting of a replica, in one typed place ({@code tandem.replica.*}). Names and defaults
 * of the first block are fixed by docs/conventions.md; the rest are replica-internal limits
 * documented in docs/replica.md. {@link ReplicaSettings} validates them at start-up.
 */
@ConfigMapping(prefix = "tandem.replica")
public interface ReplicaConfig {

    /** Stable replica id ({@code r1}, or the pod name). Required. */
    String id();

    /** RocksDB directory (data + log + meta) and the rollback files under {@code rollback/}. Required. */
    Path dataDir();

    /** host:port others reach this replica at; default {@code 127.0.0.1:<http port>}. */
    Optional<String> advertisedAddress();

    /** Write concern used when a request names none: leader, one, majority, all. */
    @WithDefault("one")
    String defaultWriteConcern();

    /** The leader lease needs enough followers for this concern (leader = no lease). */
    @WithDefault("one")
    String minWriteConcern();

    /** A leader self-fences after this long without enough followers, in milliseconds. */
    @WithDefault("400")
    long leaseMs();

    /** Idle leader to follower heartbeat interval, in milliseconds. */
    @WithDefault("50")
    long heartbeatIntervalMs();

    /** Write-concern wait before NOT_CONFIRMED, in milliseconds. */
    @WithDefault("5000")
    long confirmTimeoutMs();

    /** Longest key, in UTF-8 bytes. */
    @WithDefault("1024")
    int maxKeyBytes();

    /** Longest value, in bytes. */
    @WithDefault("1048576")
    int maxValueBytes();

    /** Most operations in one write (one log entry). */
    @WithDefault("1000")
    int maxBatchOps();

    /** Most key + value bytes in one write. */
    @WithDefault("4194304")
    long maxBatchBytes();

    /** A follower is ready only while it lags its leader by at most this many entries. */
    @WithDefault("10000")
    long readyMaxLagEntries();

    // ---- replica-internal limits (docs/replica.md) -----------------------------------------

    /** Bytes shipped to one follower and not yet acknowledged. */
    @WithDefault("8388608")
    long maxInFlightBytes();

    /** Log entries kept behind the slowest wanted follower; further behind = snapshot. */
    @WithDefault("100000")
    long maxRetainedEntries();

    /** Request ids remembered for idempotent retries, at most this many. */
    @WithDefault("100000")
    int idempotencyWindowEntries();

    /** Request ids remembered for idempotent retries, at most this long, in milliseconds. */
    @WithDefault("600000")
    long idempotencyWindowMs();

    /** Client writes and stream events queued for the driver thread before callers get UNAVAILABLE. */
    @WithDefault("65536")
    int inboxCapacity();

    /** Largest scan page; also the page size when a request asks for 0. */
    @WithDefault("1000")
    int maxScanLimit();

    /**
     * Most key, value and content-type bytes in one scan page, in bytes; a page holds at least one
     * item whatever its size. Keeps an answer under the 4 MiB a gRPC client accepts by default
     * (1,000 values of 1 MiB would not fit), the rest follows with the cursor.
     */
    @WithDefault("3145728")
    long maxScanPageBytes();

    /** Longest a read may wait for its min_position, in milliseconds. */
    @WithDefault("5000")
    long maxReadWaitMs();

    /** Change streams (routers' read caches) one replica serves at most; more are refused. */
    @WithName("change-feed.max-subscribers")
    @WithDefault("64")
    int changeFeedMaxSubscribers();

    /** Bytes of changes queued for one change stream before it is ended as too far behind. */
    @WithName("change-feed.max-pending-bytes")
    @WithDefault("8388608")
    long changeFeedMaxPendingBytes();

    /** An idle change stream gets an event at least this often when the reader names no interval, in milliseconds. */
    @WithName("change-feed.heartbeat-ms")
    @WithDefault("500")
    long changeFeedHeartbeatMs();
}
