package dev.tandem.router.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
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
import jakarta.ws.rs.Encoded;
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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Single-key reads and writes and prefix scans. The single-key methods take the key as sent, still
 * percent-encoded ({@code @Encoded}), and decode it strictly themselves; {@link KeyRoutes} serves
 * them from the raw request path, so no "..", "." or "//" of a key is resolved away. Handlers run on the I/O thread and return a
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
    @APIResponse(responseCode = "200", description = "The value, with its stored content type",
            headers = @Header(name = "ETag", description = "the version \"<epoch>.<lsn>\""))
    @APIResponse(responseCode = "304", description = "If-None-Match matched the current version (weak comparison)",
            headers = @Header(name = "ETag", description = "the version \"<epoch>.<lsn>\""))
    @APIResponse(responseCode = "400", description = "Malformed key or header", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "404", description = "No such key", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "410", description = "SESSION_WRITE_LOST: the session's write was lost in a failover", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "412", description = "If-Match matched no current version (strong comparison)", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "No replica can serve the read now; see Retry-After", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @Operation(summary = "Read one key", description = "Body is the stored value with its content type; ETag is the version \"<epoch>.<lsn>\". "
            + "If-None-Match (weak comparison) answers 304 when a tag matches; If-Match (strong comparison) answers 412 when none does.")
    public CompletionStage<Response> get(@Encoded @PathParam("key") String key,
                                         @Parameter(description = "strong | bounded;max-staleness-ms=N | session (default) | eventual")
                                         @HeaderParam(TandemHeaders.CONSISTENCY) String consistencyHeader,
                                         @HeaderParam(TandemHeaders.SESSION) String session,
                                         @HeaderParam("If-Match") String ifMatch,
                                         @HeaderParam("If-None-Match") String ifNoneMatch) {
        return getReply(key, consistencyHeader, session, ifMatch, ifNoneMatch).thenApply(Reply::toResponse);
    }

    /** {@link #get} as {@link KeyRoutes} serves it; {@code key} is the raw path's, still percent-encoded. */
    CompletionStage<Reply> getReply(String key, String consistencyHeader, String session, String ifMatch, String ifNoneMatch) {
        Exchange x = new Exchange(metrics, retryAfterS, "get", session);
        return x.run(token -> {
            Consistency c = TandemHeaders.consistency(consistencyHeader);
            x.consistency(c.level().label());
            ReadPreconditions.parse(ifMatch, ifNoneMatch); // a malformed one is a 400 before any replica is asked
            return router.get(TandemHeaders.keyFromRawPath(key), c, token);
        }, (Served<GetResponse> s, dev.tandem.common.SessionToken next) -> {
            GetResponse r = s.response();
            String decodedKey = TandemHeaders.keyFromRawPath(key);
            String etag = r.getFound() ? TandemHeaders.etag(LogPosition.of(r.getVersion())) : null;
            ReadPreconditions pre = ReadPreconditions.parse(ifMatch, ifNoneMatch);
            if (pre != null && !pre.ifMatchHolds(etag)) {
                throw new RouterException(ErrorCode.CONDITION_FAILED, "If-Match: " + ifMatch.trim() + " does not match the key '" + decodedKey + "', which "
                        + (etag == null ? "does not exist" : "is at " + etag) + " (as of " + s.position() + " on " + s.servedBy() + ")",
                        s.position(), -1, s.servedBy());
            }
            if (!r.getFound()) {
                throw new RouterException(ErrorCode.NOT_FOUND, "key '" + decodedKey + "' does not exist (as of " + s.position() + " on " + s.servedBy() + ")");
            }
            if (pre != null && pre.ifNoneMatchFails(etag)) {
                return Reply.status(304).header("ETag", etag);
            }
            return Reply.status(200).body(r.getValue().toByteArray(), servedContentType(r.getContentType())).header("ETag", etag);
        });
    }

    /** The stored content type if a client can be given it back, else application/octet-stream. */
    static String servedContentType(String stored) {
        return stored.isEmpty() || !TandemHeaders.isValidMediaType(stored) ? OCTET_STREAM : stored;
    }

    /** If-Match and If-None-Match of a read (RFC 9110 13.1.1, 13.1.2), either may be absent. */
    record ReadPreconditions(List<String> ifMatch, List<String> ifNoneMatch) {

        /** Null when the request has neither header: the common case costs nothing. */
        static ReadPreconditions parse(String ifMatch, String ifNoneMatch) {
            boolean hasMatch = ifMatch != null && !ifMatch.isBlank();
            boolean hasNoneMatch = ifNoneMatch != null && !ifNoneMatch.isBlank();
            if (!hasMatch && !hasNoneMatch) {
                return null;
            }
            return new ReadPreconditions(hasMatch ? TandemHeaders.entityTags(ifMatch, "If-Match") : null,
                    hasNoneMatch ? TandemHeaders.entityTags(ifNoneMatch, "If-None-Match") : null);
        }

        /** Strong comparison: "*" matches any current value, a weak tag never matches. */
        boolean ifMatchHolds(String etag) {
            return ifMatch == null || etag != null && ifMatch.stream().anyMatch(t -> t.equals("*") || t.equals(etag));
        }

        /** Weak comparison: true (answer 304) when "*" or any tag, weak or not, names the current value. */
        boolean ifNoneMatchFails(String etag) {
            return ifNoneMatch != null && etag != null
                    && ifNoneMatch.stream().anyMatch(t -> t.equals("*") || (t.startsWith("W/") ? t.substring(2) : t).equals(etag));
        }
    }

    @PUT
    @Path("{key: .+}")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @APIResponse(responseCode = "200", description = "Overwritten", headers = @Header(name = "ETag", description = "the new version"))
    @APIResponse(responseCode = "201", description = "Created", headers = @Header(name = "ETag", description = "the new version"))
    @APIResponse(responseCode = "400", description = "Malformed key, header or Content-Type; key or value too large", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "409", description = "FENCED by a newer epoch", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "412", description = "If-Match / If-None-Match did not hold; nothing written", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "413", description = "Body over the limit", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "No leader accepts writes now; see Retry-After", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "504", description = "NOT_CONFIRMED: durable on the leader, write concern not confirmed in time", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @Operation(summary = "Write one key", description = "Body bytes are the value; the content type is stored with it. "
            + "If-Match: <etag> or * and If-None-Match: * make the write conditional (412 when the condition fails). 201 when the key was created.")
    public CompletionStage<Response> put(@Encoded @PathParam("key") String key, byte[] body,
                                         @HeaderParam("Content-Type") String contentType,
                                         @HeaderParam("If-Match") String ifMatch,
                                         @HeaderParam("If-None-Match") String ifNoneMatch,
                                         @Parameter(description = "leader | one | majority | all (default: the cluster's)")
                                         @HeaderParam(TandemHeaders.WRITE_CONCERN) String concern,
                                         @HeaderParam(TandemHeaders.IDEMPOTENCY_KEY) String idempotencyKey,
                                         @HeaderParam(TandemHeaders.SESSION) String session) {
        return putReply(key, body, contentType, ifMatch, ifNoneMatch, concern, idempotencyKey, session).thenApply(Reply::toResponse);
    }

    /** {@link #put} as {@link KeyRoutes} serves it. */
    CompletionStage<Reply> putReply(String key, byte[] body, String contentType, String ifMatch, String ifNoneMatch, String concern,
                                    String idempotencyKey, String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "put", session);
        return x.run(token -> {
            Put.Builder put = Put.newBuilder().setKey(TandemHeaders.keyFromRawPath(key))
                    .setValue(ByteString.copyFrom(body == null ? new byte[0] : body))
                    .setContentType(contentType == null ? OCTET_STREAM : TandemHeaders.contentType(contentType, "Content-Type"));
            TandemHeaders.condition(ifMatch, ifNoneMatch).ifPresent(put::setCondition);
            return singleKey(router.write(writeRequest(concern, idempotencyKey).addOps(Op.newBuilder().setPut(put)).build(), e -> null));
        }, (Served<WriteResponse> s, dev.tandem.common.SessionToken next) -> {
            WriteResponse r = s.response();
            // A replay carries the original write's results, so a retry answers as the first call did.
            boolean created = r.getResultsCount() > 0 && !r.getResults(0).getExisted();
            ObjectNode out = JSON.createObjectNode();
            out.put("key", TandemHeaders.keyFromRawPath(key));
            out.put("version", s.position().toString());
            out.put("created", created);
            out.put("replayed", r.getReplayed());
            previous(r).ifPresent(p -> out.put("previousVersion", p.toString()));
            return Reply.json(created ? 201 : 200, out.toString())
                    .header("ETag", TandemHeaders.etag(s.position()))
                    .header(TandemHeaders.REPLAYED, Boolean.toString(r.getReplayed()));
        });
    }

    @DELETE
    @Path("{key: .+}")
    @Produces(MediaType.APPLICATION_JSON)
    @APIResponse(responseCode = "204", description = "Deleted")
    @APIResponse(responseCode = "400", description = "Malformed key or header (If-None-Match is not supported)", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "404", description = "There was nothing to delete", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "412", description = "If-Match did not hold; nothing deleted", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "No leader accepts writes now; see Retry-After", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "504", description = "NOT_CONFIRMED: durable on the leader, write concern not confirmed in time", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @Operation(summary = "Delete one key", description = "204 when it existed, 404 when there was nothing to delete; If-Match makes it conditional (412).")
    public CompletionStage<Response> delete(@Encoded @PathParam("key") String key,
                                            @HeaderParam("If-Match") String ifMatch,
                                            @HeaderParam("If-None-Match") String ifNoneMatch,
                                            @HeaderParam(TandemHeaders.WRITE_CONCERN) String concern,
                                            @HeaderParam(TandemHeaders.IDEMPOTENCY_KEY) String idempotencyKey,
                                            @HeaderParam(TandemHeaders.SESSION) String session) {
        return deleteReply(key, ifMatch, ifNoneMatch, concern, idempotencyKey, session).thenApply(Reply::toResponse);
    }

    /** {@link #delete} as {@link KeyRoutes} serves it. */
    CompletionStage<Reply> deleteReply(String key, String ifMatch, String ifNoneMatch, String concern, String idempotencyKey, String session) {
        Exchange x = new Exchange(metrics, retryAfterS, "delete", session);
        return x.run(token -> {
            Delete.Builder del = Delete.newBuilder().setKey(TandemHeaders.keyFromRawPath(key));
            // "Delete only if absent" means nothing; ignoring the header would delete anyway.
            TandemHeaders.noConditionalHeader("If-None-Match", ifNoneMatch, "DELETE (use If-Match: <etag> or *)");
            TandemHeaders.condition(ifMatch, null).ifPresent(del::setCondition);
            return singleKey(router.write(writeRequest(concern, idempotencyKey).addOps(Op.newBuilder().setDelete(del)).build(), e -> null));
        }, (Served<WriteResponse> s, dev.tandem.common.SessionToken next) -> {
            WriteResponse r = s.response();
            if (r.getResultsCount() > 0 && !r.getResults(0).getExisted()) {
                throw new RouterException(ErrorCode.NOT_FOUND, "key '" + key + "' did not exist; nothing was deleted", s.position(), -1, s.servedBy());
            }
            return Reply.status(204).header(TandemHeaders.REPLAYED, Boolean.toString(r.getReplayed()));
        });
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Scan keys by prefix", description = "Items in key order, values base64; pass nextCursor as cursor to continue.")
    @APIResponse(responseCode = "200", description = "One page: {items:[{key, value (base64), contentType, version}], nextCursor}")
    @APIResponse(responseCode = "400", description = "Malformed limit, query or header", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "410", description = "SESSION_WRITE_LOST", content = @Content(mediaType = Problems.MEDIA_TYPE))
    @APIResponse(responseCode = "503", description = "No replica can serve the read now; see Retry-After", content = @Content(mediaType = Problems.MEDIA_TYPE))
    public CompletionStage<Response> scan(@QueryParam("prefix") String prefix,
                                          @Parameter(description = "1..10000; absent: the replica's default", schema = @Schema(type = SchemaType.INTEGER, minimum = "1", maximum = "10000"))
                                          @QueryParam("limit") String limit,
                                          @QueryParam("cursor") String cursor,
                                          @Parameter(description = "strong | bounded;max-staleness-ms=N | session (default) | eventual")
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
            return Reply.json(200, out.toString());
        }).thenApply(Reply::toResponse);
    }

    /**
     * The replica names the op of a batch in its size and validation errors ("key of op 0 has 1025
     * bytes"); a single-key request has no ops, so its answer says "the key" and has no opIndex.
     */
    private static <T> CompletableFuture<T> singleKey(CompletableFuture<T> write) {
        return write.exceptionallyCompose(err -> {
            Throwable t = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            if (t instanceof RouterException e && e.opIndex() == 0) {
                String detail = e.getMessage().replaceFirst("^expected_version of op 0\\b", "the If-Match version")
                        .replaceFirst("^([a-z][a-z_ ]*?) of op 0\\b", "the $1");
                return CompletableFuture.failedFuture(new RouterException(e.code(), detail, e.position(), -1, e.servedBy()));
            }
            return CompletableFuture.failedFuture(err);
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
