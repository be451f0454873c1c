package dev.tandem.router.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KeyValue;
import dev.tandem.proto.Op;
import dev.tandem.proto.OpResult;
import dev.tandem.proto.Put;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.routing.Consistency;
import dev.tandem.router.routing.KvRouter;
import dev.tandem.router.routing.RouterException;
import dev.tandem.router.routing.Served;
import dev.tandem.router.topology.TopologyService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Single-key reads and writes and prefix scans. Handlers run on the I/O thread and return a
 * future: the replica call is asynchronous, so no worker thread is held while it runs.
 */
@Path("/v1/kv")
@Tag(name = "kv", description = "Single keys and prefix scans")
public class KvResource {

    static final String OCTET_STREAM = "application/octet-stream";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KvRouter router;
    private final RouterMetrics metrics;
    private final int retryAfterS;

    public KvResource(KvRouter router, RouterMetrics metrics, TopologyService topology) {
        this.router = router;
        this.metrics = metrics;
        this.retryAfterS = topology.settings().retryAfterS();
    }

    @GET
    @Path("{key: .+}")
    @Produces(MediaType.WILDCARD)
    @Operation(summary = "Read one key", description = "Body is the stored value with its content type; ETag is the version \"<epoch>.<lsn>\".")
    public CompletionStage<Response> get(@PathParam("key") String key,
                                         @Parameter(description = "strong | bounded;max-staleness-ms=N | session (default) | eventual")
                                         @HeaderParam(TandemHeaders.CONSISTENCY) String consistencyHeader,
                                         @HeaderParam(TandemHeaders.SESSION) String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "get", session);
        return x.run(token -> {
            Consistency c = TandemHeaders.consistency(consistencyHeader);
            x.consistency(c.level().label());
            return router.get(TandemHeaders.key(key), c, token);
        }, (Served<GetResponse> s, dev.tandem.common.SessionToken next) -> {
            GetResponse r = s.response();
            if (!r.getFound()) {
                throw new RouterException(ErrorCode.NOT_FOUND, "key '" + key + "' does not exist (as of " + s.position() + " on " + s.servedBy() + ")");
            }
            return Response.ok(r.getValue().toByteArray())
                    .type(r.getContentType().isEmpty() ? OCTET_STREAM : r.getContentType())
                    .header("ETag", TandemHeaders.etag(LogPosition.of(r.getVersion())));
        });
    }

    @PUT
    @Path("{key: .+}")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Write one key", description = "Body bytes are the value; the content type is stored with it. "
            + "If-Match: <etag> or * and If-None-Match: * make the write conditional (412 when the condition fails). 201 when the key was created.")
    public CompletionStage<Response> put(@PathParam("key") String key, byte[] body,
                                         @HeaderParam("Content-Type") String contentType,
                                         @HeaderParam("If-Match") String ifMatch,
                                         @HeaderParam("If-None-Match") String ifNoneMatch,
                                         @Parameter(description = "leader | one | majority | all (default: the cluster's)")
                                         @HeaderParam(TandemHeaders.WRITE_CONCERN) String concern,
                                         @HeaderParam(TandemHeaders.IDEMPOTENCY_KEY) String idempotencyKey,
                                         @HeaderParam(TandemHeaders.SESSION) String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "put", session);
        return x.run(token -> {
            Put.Builder put = Put.newBuilder().setKey(TandemHeaders.key(key))
                    .setValue(ByteString.copyFrom(body == null ? new byte[0] : body))
                    .setContentType(contentType == null ? OCTET_STREAM : contentType);
            TandemHeaders.condition(ifMatch, ifNoneMatch).ifPresent(put::setCondition);
            return router.write(writeRequest(concern, idempotencyKey).addOps(Op.newBuilder().setPut(put)).build(), e -> null);
        }, (Served<WriteResponse> s, dev.tandem.common.SessionToken next) -> {
            WriteResponse r = s.response();
            // A replay carries the original write's results, so a retry answers as the first call did.
            boolean created = r.getResultsCount() > 0 && !r.getResults(0).getExisted();
            ObjectNode out = JSON.createObjectNode();
            out.put("key", key);
            out.put("version", s.position().toString());
            out.put("created", created);
            out.put("replayed", r.getReplayed());
            previous(r).ifPresent(p -> out.put("previousVersion", p.toString()));
            return Response.status(created ? 201 : 200).entity(out.toString()).type(MediaType.APPLICATION_JSON)
                    .header("ETag", TandemHeaders.etag(s.position()))
                    .header(TandemHeaders.REPLAYED, Boolean.toString(r.getReplayed()));
        });
    }

    @DELETE
    @Path("{key: .+}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Delete one key", description = "204 when it existed, 404 when there was nothing to delete; If-Match makes it conditional (412).")
    public CompletionStage<Response> delete(@PathParam("key") String key,
                                            @HeaderParam("If-Match") String ifMatch,
                                            @HeaderParam(TandemHeaders.WRITE_CONCERN) String concern,
                                            @HeaderParam(TandemHeaders.IDEMPOTENCY_KEY) String idempotencyKey,
                                            @HeaderParam(TandemHeaders.SESSION) String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "delete", session);
        return x.run(token -> {
            Delete.Builder del = Delete.newBuilder().setKey(TandemHeaders.key(key));
            TandemHeaders.condition(ifMatch, null).ifPresent(del::setCondition);
            return router.write(writeRequest(concern, idempotencyKey).addOps(Op.newBuilder().setDelete(del)).build(), e -> null);
        }, (Served<WriteResponse> s, dev.tandem.common.SessionToken next) -> {
            WriteResponse r = s.response();
            if (r.getResultsCount() > 0 && !r.getResults(0).getExisted()) {
                throw new RouterException(ErrorCode.NOT_FOUND, "key '" + key + "' did not exist; nothing was deleted", s.position(), -1, s.servedBy());
            }
            return Response.noContent().header(TandemHeaders.REPLAYED, Boolean.toString(r.getReplayed()));
        });
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Scan keys by prefix", description = "Items in key order, values base64; pass nextCursor as cursor to continue.")
    public CompletionStage<Response> scan(@QueryParam("prefix") String prefix,
                                          @QueryParam("limit") String limit,
                                          @QueryParam("cursor") String cursor,
                                          @HeaderParam(TandemHeaders.CONSISTENCY) String consistencyHeader,
                                          @HeaderParam(TandemHeaders.SESSION) String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "scan", session);
        return x.run(token -> {
            Consistency c = TandemHeaders.consistency(consistencyHeader);
            x.consistency(c.level().label());
            return router.scan(prefix == null ? "" : prefix, TandemHeaders.scanLimit(limit), cursor == null ? "" : cursor, c, token);
        }, (Served<ScanResponse> s, dev.tandem.common.SessionToken next) -> {
            ObjectNode out = JSON.createObjectNode();
            ArrayNode items = out.putArray("items");
            Base64.Encoder b64 = Base64.getEncoder();
            for (KeyValue kv : s.response().getItemsList()) {
                ObjectNode item = items.addObject();
                item.put("key", kv.getKey());
                item.put("value", b64.encodeToString(kv.getValue().toByteArray()));
                item.put("contentType", kv.getContentType().isEmpty() ? OCTET_STREAM : kv.getContentType());
                item.put("version", LogPosition.of(kv.getVersion()).toString());
            }
            if (s.response().getNextCursor().isEmpty()) {
                out.putNull("nextCursor");
            } else {
                out.put("nextCursor", s.response().getNextCursor());
            }
            return Response.ok(out.toString()).type(MediaType.APPLICATION_JSON);
        });
    }

    static WriteRequest.Builder writeRequest(String concern, String idempotencyKey) {
        return WriteRequest.newBuilder()
                .setWriteConcern(TandemHeaders.writeConcern(concern))
                .setRequestId(TandemHeaders.requestId(idempotencyKey));
    }

    private static Optional<LogPosition> previous(WriteResponse r) {
        if (r.getResultsCount() == 0) {
            return Optional.empty();
        }
        OpResult res = r.getResults(0);
        return res.getExisted() && res.hasPreviousVersion() ? Optional.of(LogPosition.of(res.getPreviousVersion())) : Optional.empty();
    }

}
