package dev.tandem.router.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.router.routing.RouterException;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import dev.tandem.router.topology.TopologyService;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** The router's current picture of the replica set (at most one refresh old). */
@Path("/v1/cluster")
@Tag(name = "cluster", description = "Topology as this router sees it")
public class ClusterResource {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final TopologyService topology;

    public ClusterResource(TopologyService topology) {
        this.topology = topology;
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Leader, epoch and every replica's role, positions and lag")
    public Response cluster(@HeaderParam(TandemHeaders.SESSION) String session) {
        SessionToken token;
        try {
            token = TandemHeaders.session(session).token();
        } catch (RouterException e) {
            return Problems.reply(e, SessionToken.fresh(), topology.settings().retryAfterS()).toResponse();
        }
        Topology t = topology.current();
        ObjectNode out = JSON.createObjectNode();
        ReplicaView leader = t.leader().orElse(null);
        if (leader == null) {
            out.putNull("leader");
        } else {
            out.put("leader", leader.id());
        }
        out.put("epoch", leader == null ? t.highestEpoch() : leader.epoch());
        ArrayNode replicas = out.putArray("replicas");
        long now = System.nanoTime();
        for (ReplicaView r : t.replicas()) {
            ObjectNode o = replicas.addObject();
            o.put("id", r.id());
            o.put("address", r.address());
            o.put("healthy", r.healthy());
            o.put("role", r.role().name().substring("ROLE_".length()).toLowerCase(Locale.ROOT));
            o.put("epoch", r.epoch());
            ReplicaInfo i = r.info();
            if (i != null) {
                o.put("acceptingWrites", i.getAcceptingWrites());
                o.put("streaming", i.getStreaming());
                o.put("last", LogPosition.of(i.getLast()).toString());
                o.put("receivedLsn", i.getReceivedLsn());
                o.put("flushedLsn", i.getFlushedLsn());
                o.put("appliedLsn", i.getAppliedLsn());
                o.put("lagEntries", i.getLagEntries());
                o.put("stalenessMs", i.getStalenessMs());
                o.put("lastSeenMsAgo", TimeUnit.NANOSECONDS.toMillis(now - r.lastSeenNanos()));
            }
            if (!r.lastError().isEmpty()) {
                o.put("error", r.lastError());
            }
        }
        LogPosition pos = leader == null ? token.position() : LogPosition.max(token.position(), leader.appliedPosition());
        return Response.ok(out.toString())
                .header(TandemHeaders.SESSION, token.toString())
                .header(TandemHeaders.POSITION, pos.toString())
                .header(TandemHeaders.SERVED_BY, "router")
                .build();
    }
}
