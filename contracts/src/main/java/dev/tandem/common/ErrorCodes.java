package dev.tandem.common;

import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one error-code set (proto {@link ErrorCode}) and how REST presents each code: HTTP status
 * and the problem+json title. The router maps with this table only; gRPC carries the code as is.
 */
public final class ErrorCodes {

    private ErrorCodes() {}

    public static int httpStatus(ErrorCode code) {
        switch (code) {
            case OK: return 200;
            case INVALID_ARGUMENT:
            case KEY_TOO_LARGE:
            case VALUE_TOO_LARGE:
            case BATCH_TOO_LARGE: return 400;
            case UNAUTHENTICATED: return 401;
            case NOT_FOUND:
            case UNKNOWN_PATH: return 404;
            case METHOD_NOT_ALLOWED: return 405;
            case VERSION_CONFLICT:
            case FENCED: return 409;
            case SESSION_WRITE_LOST: return 410;
            case CONDITION_FAILED: return 412;
            case PAYLOAD_TOO_LARGE: return 413;
            case UNSUPPORTED_MEDIA_TYPE: return 415;
            // As the IETF httpapi Idempotency-Key draft and Stripe answer a key reused for another request.
            case IDEMPOTENCY_KEY_REUSED: return 422;
            case NOT_LEADER:
            case UNKNOWN_EPOCH:
            case NO_LEADER:
            case LEASE_EXPIRED:
            case NOT_CAUGHT_UP:
            case SNAPSHOT_REQUIRED:
            case UNAVAILABLE: return 503;
            case NOT_CONFIRMED: return 504;
            default: return 500;
        }
    }

    public static String title(ErrorCode code) {
        switch (code) {
            case INVALID_ARGUMENT: return "Invalid request";
            case KEY_TOO_LARGE: return "Key too large";
            case VALUE_TOO_LARGE: return "Value too large";
            case BATCH_TOO_LARGE: return "Batch too large";
            case NOT_FOUND: return "Key not found";
            case CONDITION_FAILED: return "Precondition failed";
            case VERSION_CONFLICT: return "Version conflict";
            case NOT_LEADER: return "Not the leader";
            case FENCED: return "Fenced by a newer epoch";
            case UNKNOWN_EPOCH: return "Unknown epoch";
            case NO_LEADER: return "No leader";
            case NOT_CONFIRMED: return "Durable on the leader, not confirmed";
            case LEASE_EXPIRED: return "Leader lease expired";
            case UNAUTHENTICATED: return "Unauthenticated";
            case NOT_CAUGHT_UP: return "Replica not caught up";
            case SESSION_WRITE_LOST: return "Session position lost in failover";
            case SNAPSHOT_REQUIRED: return "Snapshot required";
            case UNAVAILABLE: return "Unavailable";
            case PAYLOAD_TOO_LARGE: return "Payload too large";
            case IDEMPOTENCY_KEY_REUSED: return "Idempotency key reused for a different request";
            case UNKNOWN_PATH: return "No such resource";
            case METHOD_NOT_ALLOWED: return "Method not allowed";
            case UNSUPPORTED_MEDIA_TYPE: return "Unsupported media type";
            default: return "Internal error";
        }
    }

    /** URI that names the problem type in problem+json. */
    public static String typeUri(ErrorCode code) {
        return "https://tandem.dev/problems/" + code.name().toLowerCase().replace('_', '-');
    }

    /**
     * The members of an RFC 9457 problem+json body for {@code code}, in their conventional order;
     * callers add their own (position, opIndex) and serialize it with their JSON library.
     */
    public static Map<String, Object> problem(ErrorCode code, String detail) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", typeUri(code));
        p.put("title", title(code));
        p.put("status", httpStatus(code));
        p.put("detail", detail);
        p.put("code", code.name());
        return p;
    }

    public static Error error(ErrorCode code, String message) {
        return Error.newBuilder().setCode(code).setMessage(message).setOpIndex(-1).build();
    }

    public static boolean isOk(Error error) {
        return error == null || error.getCode() == ErrorCode.OK;
    }
}
