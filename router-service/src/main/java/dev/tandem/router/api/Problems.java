package dev.tandem.router.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tandem.common.ErrorCodes;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.ErrorCode;
import dev.tandem.router.routing.RouterException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.jboss.logging.Logger;

/**
 * RFC 9457 problem+json for every error. The HTTP status comes from the shared
 * {@link ErrorCodes} table only; the body adds the Tandem error {@code code}, and where it matters
 * the log {@code position} (NOT_CONFIRMED, SESSION_WRITE_LOST) and the failing {@code opIndex}.
 */
public final class Problems {

    public static final String MEDIA_TYPE = "application/problem+json";
    private static final Logger LOG = Logger.getLogger(Problems.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private Problems() {}

    /** Unwraps the futures' wrappers; anything not a RouterException is a bug and becomes INTERNAL. */
    public static RouterException classify(Throwable err) {
        Throwable t = err;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof RouterException r) {
            return r;
        }
        LOG.error("unexpected error while routing a request (a bug: expected conditions carry an error code)", t);
        return new RouterException(ErrorCode.INTERNAL, "internal error in the router: " + t.getClass().getSimpleName());
    }

    /** The problem+json body of {@code code}: type, title and status from the shared table ({@link ErrorCodes}). */
    static ObjectNode body(ErrorCode code, String detail) {
        return JSON.valueToTree(ErrorCodes.problem(code, detail));
    }

    static Reply reply(RouterException e, SessionToken token, int retryAfterS) {
        ErrorCode code = e.code();
        int status = ErrorCodes.httpStatus(code);
        ObjectNode body = body(code, e.getMessage());
        if (e.position() != null) {
            body.put("position", e.position().toString());
        }
        if (e.opIndex() >= 0) {
            body.put("opIndex", e.opIndex());
        }
        if (!e.servedBy().isEmpty()) {
            body.put("servedBy", e.servedBy());
        }
        LogPosition shown = e.position() != null ? e.position() : token.position();
        Reply r = Reply.status(status)
                .body(body.toString().getBytes(StandardCharsets.UTF_8), MEDIA_TYPE)
                .header(TandemHeaders.SESSION, token.toString())
                .header(TandemHeaders.POSITION, shown.toString())
                .header(TandemHeaders.SERVED_BY, e.servedBy().isEmpty() ? "router" : e.servedBy());
        if (status == 503) {
            // Every 503 here is transient (failover, catch-up, lease): tell clients when to come back.
            r.header("Retry-After", Integer.toString(retryAfterS));
        }
        return r;
    }
}
