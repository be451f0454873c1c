package dev.tandem.router.it;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.tandem.process.ServiceProcess;
import io.restassured.RestAssured;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A session token from an epoch no replica has reached (a lost history, another cluster, a made-up
 * token) can never be satisfied: the read gets 410 SESSION_WRITE_LOST, telling the client to start a
 * new session, not a 503 it would retry forever.
 */
class SessionTokenEpochIT {

    @Test
    void aTokenFromAnEpochNoReplicaKnowsIsGoneNotRetryable() {
        try (TandemCluster cluster = new TandemCluster("session-token-epoch", 1, Map.of("tandem.replica.min-write-concern", "leader"))) {
            cluster.formWithLeader("r1");
            ServiceProcess router = cluster.startRouter("router", Map.of());
            RestAssured.given().baseUri(router.httpUrl()).header("Tandem-Session", "v1.0123456789abcdef.99.1")
                    .get("/v1/kv/anything").then()
                    .statusCode(410)
                    .contentType("application/problem+json")
                    .body("code", equalTo("SESSION_WRITE_LOST"))
                    .body("detail", containsString("epoch 99, which none of the 1 replicas has reached"));
            // A token within the cluster's history is served as usual.
            RestAssured.given().baseUri(router.httpUrl()).header("Tandem-Session", "v1.0123456789abcdef.1.0")
                    .get("/v1/kv/anything").then()
                    .statusCode(404)
                    .body("code", equalTo("NOT_FOUND"));
        }
    }
}
