package dev.tandem.router.api;

import dev.tandem.common.SessionToken;
import dev.tandem.proto.ErrorCode;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Carries every request to {@code /v1/kv/{key}} on plain Vert.x routes instead of through Quarkus
 * REST. The answers are made by {@link KvResource#getReply}, {@link KvResource#putReply} and
 * {@link KvResource#deleteReply}, which the documented JAX-RS methods (OpenAPI describes them) also
 * call, so both paths give identical answers; only the per-request machinery of Quarkus REST
 * (request scope, resource matching, reader and writer lookup, the JAX-RS Response) is skipped:
 * JFR showed it as about half the router's CPU per read and a third of its Java time per write
 * (docs/benchmarks.md has the measured savings).
 *
 * <p>The key is taken from the raw request path, not from the path Vert.x matched routes on: that
 * one is normalized ("a/../b" is "b", "x//y" is "x/y"), which would silently store another key.
 */
@Singleton
public class KeyRoutes {

    /**
     * Matched against the normalized path, so it also catches an empty key ("/v1/kv/"), answered 400.
     * A scan (GET /v1/kv?prefix=) has no key and stays with Quarkus REST.
     */
    private static final String KEY_PATH = "/v1/kv/.*";
    private static final String KEY_PREFIX = "/v1/kv/";
    static final String KEY_METHODS = "GET, HEAD, PUT, DELETE, OPTIONS";

    private final KvResource kv;
    private final HttpErrors httpErrors;
    private final long maxBodyBytes;

    public KeyRoutes(KvResource kv, HttpErrors httpErrors, @ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize maxBody) {
        this.kv = kv;
        this.httpErrors = httpErrors;
        this.maxBodyBytes = maxBody.asLongValue();
    }

    void install(@Observes Router router) {
        // First of all routes (a read walks no other); every method, so that an unsupported one gets 405 with Allow here.
        router.routeWithRegex(KEY_PATH).order(HttpErrors.FIRST - 100).handler(this::dispatch);
    }

    private void dispatch(RoutingContext rc) {
        HttpMethod method = rc.request().method();
        String path = rc.request().path();
        if (path == null || !path.startsWith(KEY_PREFIX)) {
            // e.g. /v1/x/../kv/k: only the normalized path names a key; which one the client meant is unclear.
            HttpErrors.send(rc, ErrorCode.INVALID_ARGUMENT, "the path must start with " + KEY_PREFIX
                    + " as sent: dot segments and empty segments before the key are not resolved (got '" + path + "')");
            return;
        }
        String rawKey = path.substring(KEY_PREFIX.length());
        if (HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method)) {
            get(rc, rawKey);
        } else if (HttpMethod.PUT.equals(method)) {
            put(rc, rawKey);
        } else if (HttpMethod.DELETE.equals(method)) {
            HttpServerRequest in = rc.request();
            answer(rc, kv.deleteReply(rawKey, in.getHeader("If-Match"), in.getHeader("If-None-Match"), in.getHeader(TandemHeaders.WRITE_CONCERN),
                    in.getHeader(TandemHeaders.IDEMPOTENCY_KEY), in.getHeader(TandemHeaders.SESSION)));
        } else if (HttpMethod.OPTIONS.equals(method)) {
            HttpErrors.options(rc, KEY_METHODS);
        } else {
            HttpErrors.methodNotAllowed(rc, KEY_METHODS);
        }
    }

    /** GET and HEAD: the same answer; Vert.x leaves out the body of a HEAD response. */
    private void get(RoutingContext rc, String rawKey) {
        HttpServerRequest in = rc.request();
        answer(rc, kv.getReply(rawKey, in.getHeader(TandemHeaders.CONSISTENCY), in.getHeader(TandemHeaders.SESSION),
                in.getHeader("If-Match"), in.getHeader("If-None-Match")));
    }

    /**
     * Reads the body as raw bytes, whatever its content type (a form-encoded type included: Vert.x's
     * BodyHandler would decode it as a form), up to the HTTP body limit: a declared length over it
     * gets 413 before the body is read ({@link HttpErrors#refusedForDeclaredLength}), a chunked body over it
     * gets 413 as it is read.
     */
    private void put(RoutingContext rc, String rawKey) {
        if (httpErrors.refusedForDeclaredLength(rc)) {
            return;
        }
        HttpServerRequest in = rc.request();
        Buffer body = Buffer.buffer();
        in.exceptionHandler(rc::fail);
        in.handler(chunk -> {
            if (rc.failed()) {
                return; // already answered 413; the rest of the body is dropped
            }
            if (body.length() + chunk.length() > maxBodyBytes) {
                rc.fail(413);
            } else {
                body.appendBuffer(chunk);
            }
        });
        in.endHandler(v -> {
            if (!rc.failed()) {
                answer(rc, kv.putReply(rawKey, body.getBytes(), in.getHeader("Content-Type"),
                        in.getHeader("If-Match"), in.getHeader("If-None-Match"), in.getHeader(TandemHeaders.WRITE_CONCERN),
                        in.getHeader(TandemHeaders.IDEMPOTENCY_KEY), in.getHeader(TandemHeaders.SESSION)));
            }
        });
        if ("100-continue".equalsIgnoreCase(in.getHeader("Expect"))) {
            // The client waits for this before it sends the body (curl does for large ones).
            rc.response().writeContinue();
        }
        in.resume();
    }

    private static void answer(RoutingContext rc, CompletionStage<Reply> reply) {
        reply.whenComplete((r, err) -> {
            if (err != null) {
                // KvResource turns every expected failure into a problem reply: this is a bug,
                // answered as INTERNAL (500, so no Retry-After is involved).
                r = Problems.reply(Problems.classify(err), SessionToken.fresh(), 1);
            }
            try {
                r.send(rc.response());
            } catch (RuntimeException e) {
                // Whatever failed while answering (a header that does not render, a closed stream),
                // the client gets an answer, not a request that hangs: 500 if nothing was sent yet.
                HttpErrors.internalError(rc, e);
            }
        });
    }
}
