package dev.tandem.router.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.OpResult;
import dev.tandem.proto.WriteResponse;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.routing.KvRouter;
import dev.tandem.router.routing.RouterException;
import dev.tandem.router.routing.Served;
import dev.tandem.router.topology.TopologyService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * An atomic batch: every op lands in one log entry, so every replica shows all of it or none.
 * A failed condition anywhere rejects the whole batch with 409 VERSION_CONFLICT naming the op.
 */
@Path("/v1/txn")
@Tag(name = "txn", description = "Atomic, optionally conditional batches")
public class TxnResource {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final KvRouter router;
    private final RouterMetrics metrics;
    private final int retryAfterS;

    public TxnResource(KvRouter router, RouterMetrics metrics, TopologyService topology) {
        this.router = router;
        this.metrics = metrics;
        this.retryAfterS = topology.settings().retryAfterS();
    }

    /** application/json, any {@code +json} type, or none at all (curl -d without -H sends a form type, which is refused). */
    static boolean isJson(String contentType) {
        if (contentType == null || contentType.isBlank()) {
            return true;
        }
        int semicolon = contentType.indexOf(';');
        String type = (semicolon >= 0 ? contentType.substring(0, semicolon) : contentType).trim().toLowerCase(java.util.Locale.ROOT);
        return type.equals("application/json") || (type.startsWith("application/") && type.endsWith("+json"));
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @APIResponse(responseCode = "200", description = "Applied atomically: {position, replayed, results:[{existed, previousVersion?}]}")
    @APIResponse(responseCode = "400", description = "Malformed batch or header; too large", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "409", description = "VERSION_CONFLICT (opIndex names the op); nothing applied", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "413", description = "Body over the limit", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "415", description = "The body is not typed as JSON", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "No leader accepts writes now; see Retry-After", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "504", description = "NOT_CONFIRMED: durable on the leader, write concern not confirmed in time", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @Operation(summary = "Apply a batch atomically",
            description = "Body {\"ops\":[{\"op\":\"put|delete|check\",\"key\":..., \"value\"|\"valueBase64\":..., \"condition\":{\"version\":\"e.l\"}|{\"exists\":bool}}]}. "
                    + "409 VERSION_CONFLICT (with opIndex) when a condition fails; nothing is applied then.")
    public CompletionStage<Response> txn(byte[] body,
                                         @HeaderParam("Content-Type") String contentType,
                                         @HeaderParam("If-Match") String ifMatch,
                                         @HeaderParam("If-None-Match") String ifNoneMatch,
                                         @HeaderParam(TandemHeaders.WRITE_CONCERN) String concern,
                                         @HeaderParam(TandemHeaders.IDEMPOTENCY_KEY) String idempotencyKey,
                                         @HeaderParam(TandemHeaders.SESSION) String session) {
        if (!isJson(contentType)) {
            SessionToken token;
            try {
                token = TandemHeaders.session(session).token();
            } catch (RuntimeException e) {
                token = SessionToken.fresh();
            }
            return CompletableFuture.completedFuture(Problems.reply(new RouterException(ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                    "the body of POST /v1/txn is JSON: send Content-Type: application/json (got '" + contentType + "')"), token, retryAfterS)
                    .toResponse());
        }
        Exchange x = new Exchange(metrics, retryAfterS, "txn", session);
        return x.run(token -> {
                    // A batch's conditions are per op; an If-Match on the whole request would be silently ignored.
                    TandemHeaders.noConditionalHeader("If-Match", ifMatch, "POST /v1/txn");
                    TandemHeaders.noConditionalHeader("If-None-Match", ifNoneMatch, "POST /v1/txn");
                    return router.write(KvResource.writeRequest(concern, idempotencyKey).addAllOps(TxnParser.parse(body)).build(),
                            // Inside a transaction a failed condition is a conflict between writers, not a failed HTTP precondition.
                            e -> e.getCode() == ErrorCode.CONDITION_FAILED ? ErrorCode.VERSION_CONFLICT : null);
                },
                (Served<WriteResponse> s, SessionToken next) -> {
                    ObjectNode out = JSON.createObjectNode();
                    out.put("position", s.position().toString());
                    out.put("replayed", s.response().getReplayed());
                    ArrayNode results = out.putArray("results");
                    for (OpResult r : s.response().getResultsList()) {
                        ObjectNode o = results.addObject();
                        o.put("existed", r.getExisted());
                        if (r.getExisted() && r.hasPreviousVersion()) {
                            o.put("previousVersion", LogPosition.of(r.getPreviousVersion()).toString());
                        }
                    }
                    return Reply.json(200, out.toString()).header(TandemHeaders.REPLAYED, Boolean.toString(s.response().getReplayed()));
                }).thenApply(Reply::toResponse);
    }
}
