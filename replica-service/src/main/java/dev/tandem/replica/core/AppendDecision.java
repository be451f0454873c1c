package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import dev.tandem.proto.ErrorCode;

/** What a follower does with entries (or a truncation) from its leader. */
public sealed interface AppendDecision {

    /**
     * Persist: first drop entries after {@code truncateAfterLsn} when it is >= 0 (writing each to
     * the rollback file), then append the batch, then persist {@code meta} (the adopted epoch and
     * history) in the same atomic write, then call {@code onLocalFlush}.
     */
    record Accept(long truncateAfterLsn, DurableMeta meta) implements AppendDecision {}

    /**
     * FENCED: the sender's epoch is older than ours. INVALID_ARGUMENT: the batch does not continue
     * our log (gap or mismatch at prev): the driver drops the stream and subscribes again.
     */
    record Reject(ErrorCode code, String reason) implements AppendDecision {}
}
