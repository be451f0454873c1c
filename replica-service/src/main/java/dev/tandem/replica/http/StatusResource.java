package dev.tandem.replica.http;

import com.google.protobuf.util.JsonFormat;
import dev.tandem.replica.grpc.Protos;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/**
 * {@code GET /v1/replica/status[?digest=true]}: the admin Status response as JSON (proto3 JSON
 * mapping, camelCase fields, 64-bit numbers as strings). Read-only and secret-free, like
 * {@code /q/metrics}: it exposes positions, not data.
 */
@Path("/v1/replica/status")
public class StatusResource {

    private final ReplicaLifecycle lifecycle;

    public StatusResource(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @GET
    @Blocking
    @Produces(MediaType.APPLICATION_JSON)
    public Response status(@QueryParam("digest") boolean digest) throws Exception {
        ReplicaNode node = lifecycle.node();
        if (node == null || node.view() == null) {
            return Response.status(503).entity("{\"error\":\"replica starting\"}").build();
        }
        String json = JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace()
                .print(Protos.status(node, node.view(), digest));
        return Response.ok(json).build();
    }
}
