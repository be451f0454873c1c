package dev.tandem.router.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * Every router setting, in one typed place. Keys and defaults are documented in docs/router.md
 * (and the shared keys in docs/conventions.md). {@link RouterSettings} validates them at start.
 */
@ConfigMapping(prefix = "tandem.router")
public interface RouterConfig {

    /** Seed replica list {@code id=host:port,id=host:port}; topology is learned from their Info. */
    String replicas();

    /** How often every replica's Info is polled, in milliseconds. */
    @WithDefault("100")
    long topologyRefreshMs();

    /** How long a follower may wait to catch up to a session token before the leader is asked, in ms. */
    @WithDefault("200")
    long sessionWaitMs();

    /**
     * gRPC deadline of one read or Info call beyond any catch-up wait, in ms. Short on purpose: a
     * hung (SIGSTOPped) follower must cost a read this much at most before the leader serves it.
     */
    @WithDefault("500")
    long readTimeoutMs();

    /**
     * gRPC deadline of a write, in ms. Longer than the replica's confirm timeout (default 5000 ms),
     * so that the replica, not the router, decides NOT_CONFIRMED and reports the position.
     */
    @WithDefault("10000")
    long writeTimeoutMs();

    /** Retry-After sent with 503 answers (no leader, lease expired), in seconds. */
    @WithDefault("1")
    int retryAfterS();

    /**
     * Reads and writes waiting for one replica's answer at most, in calls, shared evenly by the
     * event loops (each has its own connection to the replica); beyond it a request fails at once
     * (503) instead of queueing without bound behind a replica that stopped answering.
     */
    @WithDefault("10000")
    int maxCallsInFlightPerReplica();

    /**
     * What the read cache of one follower may hold at most, in bytes (keys, values and per-entry
     * overhead; a value over a sixteenth of it is never cached); 0 turns the read cache off. The
     * cache answers {@code session} and {@code eventual} gets from memory, kept exact by the
     * follower's change stream (docs/router.md, "Read cache").
     */
    @WithDefault("33554432")
    long readCacheMaxBytes();

    /**
     * How long a follower's change stream may stay silent before its cache stops answering, in ms;
     * the follower is asked for a heartbeat four times as often.
     */
    @WithDefault("2000")
    long readCacheMaxSilenceMs();
}
