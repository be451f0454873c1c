package dev.tandem.router.api;

import dev.tandem.common.SessionToken;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Carries {@code GET /v1/kv/{key}}, the hottest request, on a plain Vert.x route instead of
 * through Quarkus REST. The answer is still made by {@link KvResource#get}, the documented JAX-RS
 * method (OpenAPI describes it), so both carry identical answers; only the per-request machinery
 * of Quarkus REST (request scope, resource matching, writer lookup) is skipped, which JFR showed
 * as about half the router's CPU per read.
 */
@ApplicationScoped
public class KeyReadRoute {

    private final KvResource kv;

    public KeyReadRoute(KvResource kv) {
        this.kv = kv;
    }

    void install(@Observes Router router) {
        // Ahead of Quarkus REST's own route; a scan (GET /v1/kv?prefix=) has no key and stays there.
        router.getWithRegex("/v1/kv/(?<key>.+)").order(-100).handler(this::serve);
    }

    private void serve(RoutingContext rc) {
        String key = rc.pathParam("key"); // percent-decoded, as JAX-RS decodes @PathParam
        String consistency = rc.request().getHeader(TandemHeaders.CONSISTENCY);
        String session = rc.request().getHeader(TandemHeaders.SESSION);
        kv.get(key, consistency, session).whenComplete((response, err) -> {
            if (err != null) {
                // KvResource turns every expected failure into a problem response: this is a bug,
                // answered as INTERNAL (500, so no Retry-After is involved).
                response = Problems.response(Problems.classify(err), SessionToken.fresh(), 1);
            }
            write(rc.response(), response);
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
