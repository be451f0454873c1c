package dev.tandem.replica.core;

import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;

/**
 * A client write the core is done with. {@code code} is OK (the concern is satisfied),
 * NOT_CONFIRMED (durable on this leader, concern not confirmed before the deadline or before
 * the leader was deposed) — never a silent drop.
 */
public record Completion<W>(W waiter, LogPosition position, ErrorCode code, String reason) {}
