package dev.tandem.controller.api;

import dev.tandem.controller.ControllerApp;
import dev.tandem.controller.engine.ControllerLoop;
import dev.tandem.controller.engine.SwitchoverResult;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Operator API. Every call must carry the cluster secret in header {@code Tandem-Cluster-Secret}
 * (the same secret, and the same name, as the gRPC metadata key the replicas check): missing or
 * wrong is 401, with a detail saying which. Errors are {@code application/problem+json} (RFC 9457).
 */
@Path("/v1/admin")
@Produces(MediaType.APPLICATION_JSON)
public class AdminResource {

    public static final String SECRET_HEADER = "Tandem-Cluster-Secret";
    /** How long the HTTP call waits for a switchover before answering "pending", in ms. */
    static final long SWITCHOVER_WAIT_MS = 30_000;

    @Inject
    ControllerApp app;

    /**
     * Planned, zero-loss move of leadership to {@code to} (or the most advanced follower). 200
     * done; 400 unknown replica; 409 refused (nothing changed) or fell back (old leader leads
     * again, new epoch); 503 standby controller; 500 stopped half-way (the controller finishes it).
     */
    @POST
    @Path("/switchover")
    public Response switchover(@HeaderParam(SECRET_HEADER) String secret, @QueryParam("to") String to) {
        Response denied = authenticate(secret);
        if (denied != null) {
            return denied;
        }
        SwitchoverResult r = app.loop().switchover(to, SWITCHOVER_WAIT_MS);
        if (r.status() >= 300) {
            return problem(r.status(), title(r.outcome()), r.message(), r);
        }
        return Response.ok(r).build();
    }

    /** The recorded cluster state and the latest probe of every replica. */
    @GET
    @Path("/state")
    public Response state(@HeaderParam(SECRET_HEADER) String secret) {
        Response denied = authenticate(secret);
        if (denied != null) {
            return denied;
        }
        ControllerLoop.Snapshot s = app.loop().snapshot();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("controller", app.settings().identity());
        body.put("active", s.active());
        body.put("state", s.state());
        body.put("replicas", s.replicas());
        return Response.ok(body).build();
    }

    private Response authenticate(String presented) {
        if (presented == null || presented.isEmpty()) {
            return problem(401, "Unauthenticated", "this endpoint needs the cluster secret in header " + SECRET_HEADER, null);
        }
        if (!app.settings().secret().matches(presented)) {
            // A wrong secret is invalid credentials, not valid ones without permission: 401 too.
            return problem(401, "Unauthenticated", "wrong cluster secret in header " + SECRET_HEADER, null);
        }
        return null;
    }

    private static String title(String outcome) {
        return switch (outcome) {
            case "unknown_replica" -> "Unknown replica";
            case "target_unavailable" -> "Switchover target unavailable";
            case "refused" -> "Switchover refused";
            case "fallback" -> "Switchover fell back";
            case "conflict" -> "Switchover conflict";
            case "not_active" -> "Controller not active";
            case "incomplete" -> "Switchover incomplete";
            case "pending" -> "Switchover pending";
            default -> "Switchover " + outcome;
        };
    }

    private static Response problem(int status, String title, String detail, Object result) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "https://tandem.dev/problems/controller-" + title.toLowerCase().replace(' ', '-'));
        body.put("title", title);
        body.put("status", status);
        body.put("detail", detail);
        if (result != null) {
            body.put("result", result);
        }
        return Response.status(status).type("application/problem+json").entity(body).build();
    }
}
