package dev.tandem.controller.replica;

import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;

/**
 * The answer to Promote / Follow / StepDown: OK with the replica's last position, an error code
 * from the replica, or UNAVAILABLE when it could not be reached (with the transport's reason).
 */
public record CommandOutcome(ErrorCode code, String message, LogPosition last) {

    public boolean ok() {
        return code == ErrorCode.OK;
    }

    public static CommandOutcome unreachable(String why) {
        return new CommandOutcome(ErrorCode.UNAVAILABLE, why, LogPosition.ZERO);
    }

    @Override
    public String toString() {
        return ok() ? "OK last=" + last : code + " (" + message + ")";
    }
}
