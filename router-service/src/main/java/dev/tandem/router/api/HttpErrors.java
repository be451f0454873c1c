package dev.tandem.router.api;

import dev.tandem.common.ErrorCodes;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.ErrorCode;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.Arrays;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The answers the HTTP layer gives before (or instead of) any Tandem operation: no such path,
 * method not allowed, a body over the limit, a malformed URI, a failure while answering. Left to
 * Vert.x and Quarkus these are an HTML page or an empty body without the session headers; here
 * they are problem+json like every other error ({@link #send}), and 405 names the allowed
 * methods (RFC 9110 15.5.6).
 */
@Singleton
public class HttpErrors {

    private static final Logger LOG = Logger.getLogger(HttpErrors.class);

    /**
     * Ahead of Quarkus's own routes (its body-size check is order -2); {@link KeyRoutes} comes
     * earlier still and checks its PUT bodies itself, so that a read does not also walk these routes.
     */
    static final int FIRST = -1000;

    private static final String MALFORMED_URI = "malformed request URI: every '%' must be followed by two hex digits (send '%25' for '%')";

    private final long maxBodyBytes;

    public HttpErrors(@ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize maxBody) {
        this.maxBodyBytes = maxBody.asLongValue();
    }

    void install(@Observes Router router) {
        // Only POST /v1/txn takes a body among the routes after KeyRoutes.
        router.route().order(FIRST).method(HttpMethod.POST).handler(rc -> {
            if (!refusedForDeclaredLength(rc)) {
                rc.next();
            }
        });
        // Failure handlers run in route order: this one answers before Quarkus's, which sends an empty body.
        router.route().order(FIRST).failureHandler(this::failure);
        // The paths Quarkus REST serves: methods checked here so that 405 carries Allow and agrees with OPTIONS.
        // (Regexes match the whole path; "/v1/kv/" is KeyRoutes' empty key, not the scan.)
        allow(router, "/v1/kv", "GET, HEAD, OPTIONS");
        allow(router, "/v1/txn/?", "POST, OPTIONS");
        allow(router, "/v1/cluster/?", "GET, HEAD, OPTIONS");
        // Failures no route could take (a path that does not normalize, such as /v1/kv/%ZZ, matches no route).
        // Their context carries no status code of its own, hence one handler per status.
        router.errorHandler(400, rc -> send(rc, ErrorCode.INVALID_ARGUMENT, MALFORMED_URI));
        router.errorHandler(413, rc -> send(rc, ErrorCode.PAYLOAD_TOO_LARGE, tooLarge()));
        router.errorHandler(500, rc -> internalError(rc, rc.failure()));
        router.errorHandler(404, rc -> send(rc, ErrorCode.UNKNOWN_PATH,
                "nothing at " + rc.request().method() + " " + rc.request().path() + "; the API is /v1/kv/{key}, /v1/kv, /v1/txn and /v1/cluster"));
        router.errorHandler(405, rc -> send(rc, ErrorCode.METHOD_NOT_ALLOWED,
                rc.request().method() + " is not supported on " + rc.request().path()));
    }

    private static void allow(Router router, String pathRegex, String methods) {
        router.routeWithRegex(pathRegex).order(FIRST).handler(rc -> {
            String method = rc.request().method().name();
            String query = rc.request().query();
            if (query != null && malformedEscape(query) >= 0) {
                // Else Vert.x fails while decoding the parameters, with an empty 400 that no handler here can shape.
                send(rc, ErrorCode.INVALID_ARGUMENT, "malformed query string at position " + malformedEscape(query)
                        + ": every '%' must be followed by two hex digits (send '%25' for '%')");
            } else if (method.equals("OPTIONS")) {
                options(rc, methods);
            } else if (Arrays.asList(methods.split(", ")).contains(method)) {
                rc.next();
            } else {
                methodNotAllowed(rc, methods);
            }
        });
    }

    /** The index of the first '%' not followed by two hex digits, or -1. */
    static int malformedEscape(String s) {
        for (int i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
            if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Answers 413 when the declared Content-Length is over the limit, before the body is read (a
     * chunked body is counted where it is read); true when it did.
     */
    boolean refusedForDeclaredLength(RoutingContext rc) {
        String declared = rc.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        if (declared != null && declared.length() >= String.valueOf(maxBodyBytes).length() && isOverLimit(declared)) {
            // The client may still be sending the body: close rather than read megabytes nobody wants.
            rc.response().putHeader(HttpHeaders.CONNECTION, "close");
            send(rc, ErrorCode.PAYLOAD_TOO_LARGE, tooLarge());
            return true;
        }
        return false;
    }

    private boolean isOverLimit(String declared) {
        try {
            return Long.parseLong(declared.trim()) > maxBodyBytes;
        } catch (NumberFormatException e) {
            return false; // Vert.x itself refuses a malformed Content-Length
        }
    }

    private String tooLarge() {
        return "the request body is larger than " + maxBodyBytes + " bytes (quarkus.http.limits.max-body-size)";
    }

    private void failure(RoutingContext rc) {
        Throwable t = rc.failure();
        int status = t instanceof HttpException h ? h.getStatusCode() : rc.statusCode();
        String message = t == null ? null : t.getMessage();
        switch (status) {
            case 400 -> send(rc, ErrorCode.INVALID_ARGUMENT, message != null ? "malformed request: " + message : MALFORMED_URI);
            case 404 -> send(rc, ErrorCode.UNKNOWN_PATH, "nothing at " + rc.request().path());
            case 413 -> send(rc, ErrorCode.PAYLOAD_TOO_LARGE, tooLarge());
            default -> {
                if (status >= 400 && status < 500) {
                    send(rc, ErrorCode.INVALID_ARGUMENT, message != null ? message : "the request was refused (HTTP " + status + ")");
                } else {
                    internalError(rc, t);
                }
            }
        }
    }

    static void options(RoutingContext rc, String methods) {
        HttpServerResponse out = rc.response();
        out.setStatusCode(204).putHeader(HttpHeaders.ALLOW, methods);
        addSessionHeaders(rc, out);
        out.end();
    }

    static void methodNotAllowed(RoutingContext rc, String methods) {
        rc.response().putHeader(HttpHeaders.ALLOW, methods);
        send(rc, ErrorCode.METHOD_NOT_ALLOWED,
                rc.request().method() + " is not supported on " + rc.request().path() + "; allowed: " + methods);
    }

    /** A bug met while answering: logged, and answered 500 if the answer has not started yet, else the connection is cut. */
    static void internalError(RoutingContext rc, Throwable t) {
        LOG.error("unexpected error while answering " + rc.request().method() + " " + rc.request().path() + " (a bug)", t);
        send(rc, ErrorCode.INTERNAL,
                "internal error in the router" + (t == null ? "" : ": " + t.getClass().getSimpleName()));
    }

    /** Sends a problem+json answer with the session headers (the request's token when it parses, else a fresh one). */
    static void send(RoutingContext rc, ErrorCode code, String detail) {
        HttpServerResponse out = rc.response();
        if (out.ended() || out.closed()) {
            return;
        }
        if (out.headWritten()) {
            out.reset(); // part of another answer is on the wire: the client must see it fail, not a mix
            return;
        }
        String allow = out.headers().get(HttpHeaders.ALLOW);
        String connection = out.headers().get(HttpHeaders.CONNECTION);
        out.headers().clear(); // whatever a failed attempt to answer had set
        if (allow != null) {
            out.putHeader(HttpHeaders.ALLOW, allow);
        }
        if (connection != null) {
            out.putHeader(HttpHeaders.CONNECTION, connection);
        }
        out.setStatusCode(ErrorCodes.httpStatus(code)).putHeader(HttpHeaders.CONTENT_TYPE, Problems.MEDIA_TYPE);
        addSessionHeaders(rc, out);
        out.end(Problems.body(code, detail).toString());
    }

    private static void addSessionHeaders(RoutingContext rc, HttpServerResponse out) {
        SessionToken token;
        try {
            token = TandemHeaders.session(rc.request().getHeader(TandemHeaders.SESSION)).token();
        } catch (RuntimeException e) {
            token = SessionToken.fresh();
        }
        out.putHeader(TandemHeaders.SESSION, token.toString())
                .putHeader(TandemHeaders.POSITION, token.position().toString())
                .putHeader(TandemHeaders.SERVED_BY, "router");
    }
}
