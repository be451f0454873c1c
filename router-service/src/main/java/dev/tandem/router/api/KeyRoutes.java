package dev.tandem.router.api;

import dev.tandem.common.SessionToken;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Carries the hottest requests, {@code GET} and {@code PUT /v1/kv/{key}}, on plain Vert.x routes
 * instead of through Quarkus REST. The answers are still made by {@link KvResource#get} and
 * {@link KvResource#put}, the documented JAX-RS methods (OpenAPI describes them), so both paths
 * give identical answers; only the per-request machinery of Quarkus REST (request scope, resource
 * matching, reader and writer lookup) is skipped: JFR showed it as about half the router's CPU
 * per read and a third of its Java time per write (docs/benchmarks.md has the measured savings).
 */
@ApplicationScoped
public class KeyRoutes {

    /** A key is everything after /v1/kv/; a scan (GET /v1/kv?prefix=) has no key and stays with Quarkus REST. */
    private static final String KEY_PATH = "/v1/kv/(?<key>.+)";

    private final KvResource kv;
    private final long maxBodyBytes;

    public KeyRoutes(KvResource kv, @ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize maxBody) {
        this.kv = kv;
        this.maxBodyBytes = maxBody.asLongValue();
    }

    void install(@Observes Router router) {
        // Ahead of Quarkus REST's own routes.
        router.getWithRegex(KEY_PATH).order(-100).handler(this::get);
        router.putWithRegex(KEY_PATH).order(-100).handler(this::put);
    }

    private void get(RoutingContext rc) {
        HttpServerRequest in = rc.request();
        // pathParam is percent-decoded, as JAX-RS decodes @PathParam.
        answer(rc, kv.get(rc.pathParam("key"), in.getHeader(TandemHeaders.CONSISTENCY), in.getHeader(TandemHeaders.SESSION)));
    }

    /**
     * Reads the body as raw bytes, whatever its content type (a form-encoded type included: Vert.x's
     * BodyHandler would decode it as a form), up to the HTTP body limit: a declared length over it
     * never gets here (Quarkus answers 413 first), a chunked body over it gets 413 as it is read.
     */
    private void put(RoutingContext rc) {
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
                answer(rc, kv.put(rc.pathParam("key"), body.getBytes(), in.getHeader("Content-Type"),
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

    private static void answer(RoutingContext rc, CompletionStage<Response> response) {
        response.whenComplete((r, err) -> {
            if (err != null) {
                // KvResource turns every expected failure into a problem response: this is a bug,
                // answered as INTERNAL (500, so no Retry-After is involved).
                r = Problems.response(Problems.classify(err), SessionToken.fresh(), 1);
            }
            write(rc.response(), r);
        });
    }

    private static void write(HttpServerResponse out, Response r) {
        if (out.ended() || out.closed()) {
            return; // the client went away
        }
        out.setStatusCode(r.getStatus());
        // getHeaders, not getStringHeaders: the latter copies every header into a new sorted map.
        for (Map.Entry<String, List<Object>> h : r.getHeaders().entrySet()) {
            for (Object v : h.getValue()) {
                out.headers().add(h.getKey(), String.valueOf(v));
            }
        }
        if (r.getMediaType() != null && !out.headers().contains("Content-Type")) {
            out.putHeader("Content-Type", r.getMediaType().toString());
        }
        Object entity = r.getEntity();
        if (entity == null) {
            out.end();
        } else if (entity instanceof byte[] bytes) {
            out.end(Buffer.buffer(bytes));
        } else {
            out.end(Buffer.buffer(entity.toString().getBytes(StandardCharsets.UTF_8)));
        }
    }
}
