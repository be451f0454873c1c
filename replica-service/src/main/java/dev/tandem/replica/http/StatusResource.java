package dev.tandem.replica.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.util.JsonFormat;
import dev.tandem.common.ErrorCodes;
import dev.tandem.proto.ErrorCode;
import dev.tandem.replica.grpc.Protos;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/**
 * {@code GET /v1/replica/status[?digest=true]}: the admin Status response as JSON (proto3 JSON
 * mapping, camelCase fields, 64-bit numbers as strings). Read-only and secret-free, like
 * {@code /q/metrics}: it exposes positions, not data. Except the digest: it reads the whole
 * state, so a caller that could ask for it in a loop could keep a replica's disk and a core busy;
 * it needs the cluster secret, as the admin Status RPC does.
 */
@Path("/v1/replica/status")
public class StatusResource {

    /** The header that carries the cluster secret: the name of the gRPC metadata key. */
    static final String SECRET_HEADER = "Tandem-Cluster-Secret";

    private static final ObjectMapper JSON = new ObjectMapper();
    private final ReplicaLifecycle lifecycle;

    public StatusResource(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @GET
    @Blocking
    @Produces(MediaType.APPLICATION_JSON)
    public Response status(@QueryParam("digest") boolean digest,
                           @HeaderParam(SECRET_HEADER) String secret) throws Exception {
        ReplicaNode node = lifecycle.node();
        if (node == null || node.view() == null) {
            return Response.status(503).entity("{\"error\":\"replica starting\"}").build();
        }
        if (digest && !node.settings().secret().matches(secret)) {
            return problem(ErrorCode.UNAUTHENTICATED, "digest=true reads the whole state: send the cluster secret in the "
                    + SECRET_HEADER + " header");
        }
        String json = JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace()
                .print(Protos.status(node, node.view(), digest));
        return Response.ok(json).build();
    }

    private static Response problem(ErrorCode code, String detail) throws JsonProcessingException {
        return Response.status(ErrorCodes.httpStatus(code)).type("application/problem+json")
                .entity(JSON.writeValueAsString(ErrorCodes.problem(code, detail))).build();
    }
}
