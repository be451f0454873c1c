package dev.tandem.replica.core;

import dev.tandem.proto.WriteConcern;

/**
 * Limits and timings the core decides by. Every value carries its unit.
 *
 * @param leaseMs             a leader that has not heard from enough followers (to satisfy
 *                            {@code minWriteConcern}) within this long stops acknowledging
 *                            writes; shorter than the controller's failure detection
 * @param heartbeatIntervalMs an idle leader sends a heartbeat to each follower this often
 * @param minWriteConcern     the weakest concern the cluster guarantees; sets how many
 *                            followers the lease needs ({@code leader} = no lease)
 * @param maxInFlightBytes    bytes shipped to one follower and not yet acknowledged
 * @param maxRetainedEntries  log entries kept behind the slowest wanted follower; a follower
 *                            further behind is re-seeded from a snapshot
 */
public record CoreConfig(long leaseMs, long heartbeatIntervalMs, WriteConcern minWriteConcern,
                         long maxInFlightBytes, long maxRetainedEntries) {

    public static CoreConfig defaults() {
        return new CoreConfig(400, 50, WriteConcern.WRITE_CONCERN_ONE, 8L << 20, 100_000);
    }
}
