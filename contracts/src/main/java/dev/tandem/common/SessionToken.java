package dev.tandem.common;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * What a client carries between requests (header {@code Tandem-Session}): a session id, which
 * pins the session to one follower, and the highest log position the session has written or
 * read. Text form: {@code v1.<sessionId>.<epoch>.<lsn>}. Routers keep no session state, so any
 * router can serve any request of the session.
 */
public record SessionToken(String sessionId, LogPosition position) {

    private static final SecureRandom RANDOM = new SecureRandom();

    public SessionToken {
        if (!isSessionId(sessionId)) {
            throw new IllegalArgumentException("session id must be 16 lower-case hex digits, got '" + sessionId + "'");
        }
    }

    /** 16 lower-case hex digits. A loop, not a regex: the router checks two tokens per request. */
    private static boolean isSessionId(String s) {
        if (s.length() != 16) {
            return false;
        }
        for (int i = 0; i < 16; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }

    public static SessionToken fresh() {
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        return new SessionToken(HexFormat.of().formatHex(id), LogPosition.ZERO);
    }

    /** Parses a token; throws IllegalArgumentException with a reason a client can act on. */
    public static SessionToken parse(String text) {
        String[] parts = text == null ? new String[0] : text.trim().split("\\.");
        if (parts.length != 4 || !parts[0].equals("v1")) {
            throw new IllegalArgumentException("session token must look like v1.<16 hex>.<epoch>.<lsn>, got '" + text + "'");
        }
        return new SessionToken(parts[1], LogPosition.parse(parts[2] + "." + parts[3]));
    }

    /** The same session, having seen {@code seen} as well. */
    public SessionToken advancedTo(LogPosition seen) {
        LogPosition next = LogPosition.max(position, seen);
        return next.equals(position) ? this : new SessionToken(sessionId, next);
    }

    @Override
    public String toString() {
        return "v1." + sessionId + "." + position.epoch() + "." + position.lsn();
    }
}
