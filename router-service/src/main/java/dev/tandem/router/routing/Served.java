package dev.tandem.router.routing;

import dev.tandem.common.LogPosition;

/**
 * A replica answer and where it came from. {@code position} is what the session has now seen:
 * the replica's applied position for a read, the entry's position for a write.
 * {@code replicaNanos} is the time spent in replica calls, for the added-latency metric.
 */
public record Served<T>(T response, String servedBy, String role, LogPosition position, long replicaNanos) {}
