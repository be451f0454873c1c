package dev.tandem.router.config;

import dev.tandem.common.ReplicaAddress;
import java.util.List;

/**
 * {@link RouterConfig} checked once at start-up: a bad value stops the router with a message
 * naming the key, instead of surfacing later as odd routing.
 */
public record RouterSettings(List<ReplicaAddress> replicas, long topologyRefreshMs, long sessionWaitMs,
                             long readTimeoutMs, long writeTimeoutMs, int retryAfterS, int maxCallsInFlightPerReplica,
                             long readCacheMaxBytes, long readCacheMaxSilenceMs) {

    /** Upper bound of the catch-up wait a replica is asked for, in ms (wait_ms is a uint32 but a read must stay short). */
    public static final long MAX_SESSION_WAIT_MS = 10_000;

    public RouterSettings {
        replicas = List.copyOf(replicas);
        require(topologyRefreshMs >= 10 && topologyRefreshMs <= 60_000, "tandem.router.topology-refresh-ms must be in 10..60000, got " + topologyRefreshMs);
        require(sessionWaitMs >= 0 && sessionWaitMs <= MAX_SESSION_WAIT_MS, "tandem.router.session-wait-ms must be in 0.." + MAX_SESSION_WAIT_MS + ", got " + sessionWaitMs);
        require(readTimeoutMs >= 10 && readTimeoutMs <= 60_000, "tandem.router.read-timeout-ms must be in 10..60000, got " + readTimeoutMs);
        require(writeTimeoutMs >= 100 && writeTimeoutMs <= 600_000, "tandem.router.write-timeout-ms must be in 100..600000, got " + writeTimeoutMs);
        require(retryAfterS >= 1 && retryAfterS <= 3600, "tandem.router.retry-after-s must be in 1..3600, got " + retryAfterS);
        require(maxCallsInFlightPerReplica >= 1 && maxCallsInFlightPerReplica <= 1_000_000,
                "tandem.router.max-calls-in-flight-per-replica must be in 1..1000000, got " + maxCallsInFlightPerReplica);
        require(readCacheMaxBytes >= 0 && readCacheMaxBytes <= (1L << 40),
                "tandem.router.read-cache-max-bytes must be in 0..1099511627776 (0 = no read cache), got " + readCacheMaxBytes);
        require(readCacheMaxSilenceMs >= 100 && readCacheMaxSilenceMs <= 60_000,
                "tandem.router.read-cache-max-silence-ms must be in 100..60000, got " + readCacheMaxSilenceMs);
    }

    public static RouterSettings from(RouterConfig c) {
        List<ReplicaAddress> list;
        try {
            list = ReplicaAddress.parseList(c.replicas());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tandem.router.replicas: " + e.getMessage(), e);
        }
        return new RouterSettings(list, c.topologyRefreshMs(), c.sessionWaitMs(), c.readTimeoutMs(), c.writeTimeoutMs(), c.retryAfterS(),
                c.maxCallsInFlightPerReplica(), c.readCacheMaxBytes(), c.readCacheMaxSilenceMs());
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
