package dev.tandem.router.it;

import static org.hamcrest.Matchers.equalTo;

import dev.tandem.process.ServiceProcess;
import io.restassured.RestAssured;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The router is ready only while it reaches a replica: one that reaches none can only answer 503. */
class RouterReadinessIT {

    @Test
    void readyFollowsWhetherAnyReplicaAnswers() {
        try (TandemCluster cluster = new TandemCluster("router-readiness", 1, Map.of())) {
            ServiceProcess router = cluster.startRouter("router", Map.of());
            ServiceProcess replica = cluster.replica("r1");
            awaitReady(router, 200, "r1");
            replica.pause(); // SIGSTOP: the router's polls time out
            try {
                awaitReady(router, 503, "none");
            } finally {
                replica.resume();
            }
            awaitReady(router, 200, "r1");
        }
    }

    private static void awaitReady(ServiceProcess router, int status, String reachable) {
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                RestAssured.given().baseUri(router.httpUrl()).get("/q/health/ready").then()
                        .statusCode(status)
                        .body("checks.find { it.name == 'replicas-reachable' }.data.reachable", equalTo(reachable)));
    }
}
