package dev.tandem.replica.core;

import dev.tandem.proto.ErrorCode;

/**
 * Outcome of an admin command. {@code metaToPersist} is non-null when the durable state
 * changed: persist it before answering the caller.
 */
public record CommandResult(ErrorCode code, String reason, DurableMeta metaToPersist) {

    public boolean ok() {
        return code == ErrorCode.OK;
    }
}
