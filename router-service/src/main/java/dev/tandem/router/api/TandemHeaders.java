package dev.tandem.router.api;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.Condition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import dev.tandem.router.routing.Consistency;
import dev.tandem.router.routing.RouterException;
import java.util.Optional;
import java.util.UUID;

/**
 * Parsing of the request headers the API defines. Each parser turns a bad value into a 400
 * (INVALID_ARGUMENT) whose detail names the header and says what is accepted.
 */
public final class TandemHeaders {

    public static final String SESSION = "Tandem-Session";
    public static final String CONSISTENCY = "Tandem-Consistency";
    public static final String WRITE_CONCERN = "Tandem-Write-Concern";
    public static final String POSITION = "Tandem-Position";
    public static final String SERVED_BY = "Tandem-Served-By";
    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    public static final String REPLAYED = "Tandem-Replayed";

    /** Longest Idempotency-Key accepted, in characters: it is stored with the log entry. */
    public static final int MAX_IDEMPOTENCY_KEY_CHARS = 128;
    /** Longest key accepted by the router itself, in bytes; the replica applies its own (smaller) limit. */
    public static final int MAX_KEY_BYTES_HARD = 64 * 1024;
    /** Largest scan page a client may ask for. */
    public static final int MAX_SCAN_LIMIT = 10_000;

    private TandemHeaders() {}

    /** The session of a request: the token it sent, or a fresh one. */
    public record SessionHeader(SessionToken token, boolean sent) {}

    public static SessionHeader session(String header) {
        if (header == null || header.isBlank()) {
            return new SessionHeader(SessionToken.fresh(), false);
        }
        try {
            return new SessionHeader(SessionToken.parse(header), true);
        } catch (IllegalArgumentException e) {
            throw bad(SESSION + ": " + e.getMessage() + " (omit the header to start a new session)");
        }
    }

    public static Consistency consistency(String header) {
        try {
            return Consistency.parse(header);
        } catch (IllegalArgumentException e) {
            throw bad(CONSISTENCY + ": " + e.getMessage());
        }
    }

    public static WriteConcern writeConcern(String header) {
        if (header == null || header.isBlank()) {
            return WriteConcern.WRITE_CONCERN_DEFAULT;
        }
        try {
            return WriteConcerns.parse(header);
        } catch (IllegalArgumentException e) {
            throw bad(WRITE_CONCERN + ": " + e.getMessage());
        }
    }

    /**
     * The request id sent to the leader. Without an Idempotency-Key the router still makes one up,
     * so that its own retry after a NOT_LEADER answer can never apply a write twice.
     */
    public static String requestId(String header) {
        if (header == null || header.isEmpty()) {
            return "router-" + UUID.randomUUID();
        }
        if (header.length() > MAX_IDEMPOTENCY_KEY_CHARS) {
            throw bad(IDEMPOTENCY_KEY + " must have at most " + MAX_IDEMPOTENCY_KEY_CHARS + " characters, got " + header.length());
        }
        for (int i = 0; i < header.length(); i++) {
            char c = header.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw bad(IDEMPOTENCY_KEY + " must be printable ASCII without spaces");
            }
        }
        return "client-" + header;
    }

    /**
     * The precondition of a single-key write: {@code If-Match: "<epoch>.<lsn>"} (the ETag) or
     * {@code If-Match: *} (must exist), {@code If-None-Match: *} (must not exist).
     */
    public static Optional<Condition> condition(String ifMatch, String ifNoneMatch) {
        boolean hasMatch = ifMatch != null && !ifMatch.isBlank();
        boolean hasNoneMatch = ifNoneMatch != null && !ifNoneMatch.isBlank();
        if (hasMatch && hasNoneMatch) {
            throw bad("send either If-Match or If-None-Match, not both");
        }
        if (hasNoneMatch) {
            if (!ifNoneMatch.trim().equals("*")) {
                throw bad("If-None-Match on a write supports only '*' (the key must not exist), got '" + ifNoneMatch + "'");
            }
            return Optional.of(Condition.newBuilder().setMustNotExist(true).build());
        }
        if (hasMatch) {
            String v = ifMatch.trim();
            if (v.equals("*")) {
                return Optional.of(Condition.newBuilder().setMustExist(true).build());
            }
            if (v.contains(",")) {
                throw bad("If-Match takes one version, got '" + ifMatch + "'");
            }
            return Optional.of(Condition.newBuilder().setExpectedVersion(version(v, "If-Match").toProto()).build());
        }
        return Optional.empty();
    }

    /** Parses a version as an ETag ({@code "3.17"}, optionally weak {@code W/"3.17"}) or bare ({@code 3.17}). */
    public static LogPosition version(String text, String what) {
        String v = text.trim();
        if (v.startsWith("W/")) {
            v = v.substring(2);
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        try {
            LogPosition p = LogPosition.parse(v);
            if (p.lsn() == 0) {
                throw new IllegalArgumentException("a version's lsn is at least 1");
            }
            return p;
        } catch (IllegalArgumentException e) {
            throw bad(what + ": a version looks like \"<epoch>.<lsn>\" (the ETag), got '" + text + "'");
        }
    }

    public static String etag(LogPosition version) {
        return "\"" + version + "\"";
    }

    /** Keys are non-empty UTF-8 without control characters; the replica enforces its size limit. */
    public static String key(String key) {
        if (key == null || key.isEmpty()) {
            throw bad("the key must not be empty");
        }
        if (key.length() > MAX_KEY_BYTES_HARD) {
            throw new RouterException(ErrorCode.KEY_TOO_LARGE, "the key has " + key.length() + " characters; the router accepts at most " + MAX_KEY_BYTES_HARD + " bytes");
        }
        for (int i = 0; i < key.length(); i++) {
            if (Character.isISOControl(key.charAt(i))) {
                throw bad("the key must not contain control characters (position " + i + ")");
            }
        }
        return key;
    }

    public static int scanLimit(String text) {
        if (text == null || text.isBlank()) {
            return 0;
        }
        try {
            int n = Integer.parseInt(text.trim());
            if (n < 1 || n > MAX_SCAN_LIMIT) {
                throw bad("limit must be in 1.." + MAX_SCAN_LIMIT + ", got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw bad("limit must be a whole number, got '" + text + "'");
        }
    }

    static RouterException bad(String detail) {
        return new RouterException(ErrorCode.INVALID_ARGUMENT, detail);
    }
}
