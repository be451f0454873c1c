package dev.tandem.router.api;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.Condition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import dev.tandem.router.routing.Consistency;
import dev.tandem.router.routing.RouterException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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
            throw bad(named(CONSISTENCY, e.getMessage()));
        }
    }

    public static WriteConcern writeConcern(String header) {
        if (header == null || header.isBlank()) {
            return WriteConcern.WRITE_CONCERN_DEFAULT;
        }
        try {
            return WriteConcerns.parse(header);
        } catch (IllegalArgumentException e) {
            throw bad(named(WRITE_CONCERN, e.getMessage()));
        }
    }

    /** Prefixes a parser's message with the header's name, unless the parser already named it. */
    private static String named(String header, String message) {
        return message.startsWith(header) ? message : header + ": " + message;
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
     * If-Match compares strongly (RFC 9110 13.1.1): a weak tag {@code W/"..."} never matches, so
     * such a write fails with 412 without reaching a replica.
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
            LogPosition expected = version(v, "If-Match");
            if (v.startsWith("W/")) {
                throw new RouterException(ErrorCode.CONDITION_FAILED, "If-Match compares strongly: the weak tag " + v
                        + " never matches; send the ETag \"" + expected + "\" as it was returned; nothing was written");
            }
            return Optional.of(Condition.newBuilder().setExpectedVersion(expected.toProto()).build());
        }
        return Optional.empty();
    }

    /** Refuses a conditional header on a request that cannot honour it, rather than ignoring it. */
    public static void noConditionalHeader(String header, String value, String request) {
        if (value != null && !value.isBlank()) {
            throw bad(header + " is not supported on " + request + "; remove it"
                    + (request.startsWith("POST /v1/txn") ? " (put a \"condition\" on the ops instead)" : ""));
        }
    }

    /**
     * The entity tags of an If-Match or If-None-Match on a read: {@code *} (returned as a list
     * holding only "*") or a comma-separated list of tags, each kept with its weakness so that the
     * caller can compare strongly or weakly.
     */
    public static java.util.List<String> entityTags(String header, String name) {
        java.util.List<String> tags = new java.util.ArrayList<>();
        for (String part : header.split(",")) {
            String t = part.trim();
            if (t.equals("*")) {
                tags.add("*");
                continue;
            }
            String opaque = t.startsWith("W/") ? t.substring(2) : t;
            if (opaque.length() < 2 || !opaque.startsWith("\"") || !opaque.endsWith("\"") || opaque.indexOf('"', 1) != opaque.length() - 1) {
                throw bad(name + ": expected '*' or entity tags like \"<epoch>.<lsn>\" separated by commas, got '" + header + "'");
            }
            tags.add(t);
        }
        if (tags.isEmpty()) {
            throw bad(name + " is empty");
        }
        return tags;
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

    /**
     * Keys are non-empty UTF-8 without control characters; the replica enforces its size limit.
     * A lone surrogate (possible in JSON's "\\ud800") has no UTF-8 form: refused, never stored as '?'.
     */
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
        int lone = loneSurrogate(key);
        if (lone >= 0) {
            throw bad("the key is not valid Unicode: a lone surrogate at position " + lone + " has no UTF-8 form");
        }
        return key;
    }

    /** The index of the first unpaired UTF-16 surrogate in {@code s}, or -1 when it is well formed. */
    public static int loneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The key of {@code /v1/kv/{key}} from the raw (not normalized) path after the prefix, decoded
     * strictly: every '%' starts two hex digits, and the bytes must be UTF-8. Vert.x's own decoding
     * resolves "..", "." and "//" first and replaces invalid UTF-8 with U+FFFD, which would store a
     * different key than the client sent.
     */
    public static String keyFromRawPath(String raw) {
        if (isPlainAscii(raw)) {
            return key(raw); // the common case, on every read: nothing to decode
        }
        byte[] bytes = new byte[raw.length() * 3];
        int n = 0;
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(raw.charAt(i + 2), 16) : -1;
                if (lo < 0) {
                    throw bad("the key has a malformed percent-encoding at position " + i + " of the path segment '"
                            + raw.substring(i, Math.min(raw.length(), i + 3)) + "': '%' must be followed by two hex digits (send '%25' for '%')");
                }
                bytes[n++] = (byte) (hi * 16 + lo);
                i += 2;
            } else if (c < 0x80) {
                bytes[n++] = (byte) c;
            } else {
                // Not valid in a request line; Vert.x passes it on as ISO-8859-1: encode it back as sent.
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                System.arraycopy(b, 0, bytes, n, b.length);
                n += b.length;
            }
        }
        try {
            return key(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, n)).toString());
        } catch (CharacterCodingException e) {
            throw bad("the key is not valid UTF-8 once percent-decoded (" + raw + ")");
        }
    }

    private static boolean isPlainAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' || c >= 0x80) {
                return false;
            }
        }
        return true;
    }

    /**
     * A stored content type must parse as {@code type/subtype *(; name=value)} (RFC 9110 8.3.1):
     * anything else is refused at write time, since a reader could not be given it back.
     */
    public static String contentType(String header, String what) {
        if (header != null && !isValidMediaType(header)) {
            throw bad(what + " must be a media type like 'text/plain; charset=utf-8' (type/subtype, optional ;name=value parameters), got '" + header + "'");
        }
        return header;
    }

    public static boolean isValidMediaType(String s) {
        int i = token(s, 0);
        if (i == 0 || i >= s.length() || s.charAt(i) != '/') {
            return false;
        }
        int j = token(s, i + 1);
        if (j == i + 1) {
            return false;
        }
        while (true) {
            j = whitespace(s, j);
            if (j == s.length()) {
                return true;
            }
            if (s.charAt(j) != ';') {
                return false;
            }
            j = whitespace(s, j + 1);
            if (j == s.length()) {
                return true; // a trailing ';' is tolerated by every parser we know of
            }
            int nameEnd = token(s, j);
            if (nameEnd == j || nameEnd >= s.length() || s.charAt(nameEnd) != '=') {
                return false;
            }
            j = nameEnd + 1;
            if (j < s.length() && s.charAt(j) == '"') {
                j = quotedStringEnd(s, j);
                if (j < 0) {
                    return false;
                }
            } else {
                int valueEnd = token(s, j);
                if (valueEnd == j) {
                    return false;
                }
                j = valueEnd;
            }
        }
    }

    private static final String TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~";

    private static int token(String s, int from) {
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (!(c < 0x80 && (Character.isLetterOrDigit(c) || TCHAR_SYMBOLS.indexOf(c) >= 0))) {
                break;
            }
            i++;
        }
        return i;
    }

    private static int whitespace(String s, int from) {
        int i = from;
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
            i++;
        }
        return i;
    }

    /** The index after the closing quote of the quoted-string opening at {@code from}, or -1. */
    private static int quotedStringEnd(String s, int from) {
        for (int i = from + 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i + 1;
            } else if (c < 0x20 && c != '\t' || c == 0x7f) {
                return -1;
            }
        }
        return -1;
    }

    public static int scanLimit(String text) {
        if (text == null || text.isBlank()) {
            return 0;
        }
        String t = text.trim();
        if (!t.matches("[+-]?[0-9]+")) {
            throw bad("limit must be a whole number, got '" + text + "'");
        }
        java.math.BigInteger n = new java.math.BigInteger(t);
        if (n.signum() < 1 || n.compareTo(java.math.BigInteger.valueOf(MAX_SCAN_LIMIT)) > 0) {
            throw bad("limit must be in 1.." + MAX_SCAN_LIMIT + ", got " + t);
        }
        return n.intValue();
    }

    static RouterException bad(String detail) {
        return new RouterException(ErrorCode.INVALID_ARGUMENT, detail);
    }
}
