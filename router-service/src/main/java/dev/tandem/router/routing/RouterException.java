package dev.tandem.router.routing;

import dev.tandem.common.LogPosition;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;

/**
 * An expected failure of one request, carrying the shared error code that decides its HTTP status
 * (dev.tandem.common.ErrorCodes). Expected conditions are frequent under failover, so no stack
 * trace is captured.
 */
public final class RouterException extends RuntimeException {

    private final ErrorCode code;
    private final LogPosition position;
    private final int opIndex;
    private final String servedBy;

    public RouterException(ErrorCode code, String detail) {
        this(code, detail, null, -1, "");
    }

    public RouterException(ErrorCode code, String detail, LogPosition position, int opIndex, String servedBy) {
        super(detail, null, false, false);
        if (code == ErrorCode.OK) {
            throw new IllegalArgumentException("OK is not an error: " + detail);
        }
        this.code = code;
        this.position = position;
        this.opIndex = opIndex;
        this.servedBy = servedBy == null ? "" : servedBy;
    }

    /** From an error a replica answered with. {@code remap} lets the caller present it differently (txn conditions). */
    public static RouterException fromReplica(Error e, String servedBy, ErrorCode remap) {
        LogPosition pos = e.hasPosition() ? LogPosition.of(e.getPosition()) : null;
        String msg = e.getMessage().isEmpty() ? e.getCode().name() : e.getMessage();
        return new RouterException(remap != null ? remap : e.getCode(), msg, pos, e.getOpIndex(), servedBy);
    }

    public ErrorCode code() {
        return code;
    }

    /** Where the problem is in the log (NOT_CONFIRMED: the write; SESSION_WRITE_LOST: the lost position), or null. */
    public LogPosition position() {
        return position;
    }

    /** Which op of a batch, -1 if none. */
    public int opIndex() {
        return opIndex;
    }

    public String servedBy() {
        return servedBy;
    }
}
