package dev.tandem.router;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.notNullValue;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

/**
 * The router process itself, with its only replica unreachable: every request still gets a
 * precise answer (400 for bad input before any routing, 503 NO_LEADER with Retry-After for
 * writes and reads), never a bare 500, and every answer carries the session headers.
 */
@QuarkusTest
class RouterWithoutLeaderTest {

    private static final String TOKEN_PATTERN = "v1\\.[0-9a-f]{16}\\.\\d+\\.\\d+";

    @Test
    void writeWithoutAnyLeaderIs503NoLeaderWithRetryAfter() {
        given().body("v").contentType("text/plain")
                .when().put("/v1/kv/a")
                .then().statusCode(503)
                .contentType("application/problem+json")
                .header("Retry-After", "1")
                .header("Tandem-Session", matchesPattern(TOKEN_PATTERN))
                .header("Tandem-Position", "0.0")
                .header("Tandem-Served-By", "router")
                .body("code", equalTo("NO_LEADER"))
                .body("status", equalTo(503))
                .body("title", equalTo("No leader"))
                .body("type", equalTo("https://tandem.dev/problems/no-leader"))
                .body("detail", containsString("0 of 1 replicas answer"));
    }

    @Test
    void sessionReadWithoutAnyReplicaIs503AndKeepsTheClientsToken() {
        String token = "v1.0123456789abcdef.3.42";
        given().header("Tandem-Session", token)
                .when().get("/v1/kv/a")
                .then().statusCode(503)
                .header("Tandem-Session", token)
                .header("Tandem-Position", "3.42")
                .body("code", equalTo("NO_LEADER"));
    }

    @Test
    void jsonBodyOnPutIsStoredAsBytesNotParsed() {
        // Reaches routing (then 503): the JSON body was accepted as opaque bytes, not rejected by a JSON reader.
        given().body("{\"not\": \"parsed\"}").contentType("application/json")
                .when().put("/v1/kv/json")
                .then().statusCode(503).body("code", equalTo("NO_LEADER"));
    }

    @Test
    void malformedSessionTokenIs400WithAFreshToken() {
        given().header("Tandem-Session", "v1.nothex.1.2")
                .when().get("/v1/kv/a")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("code", equalTo("INVALID_ARGUMENT"))
                .body("detail", containsString("Tandem-Session"))
                .header("Tandem-Session", matchesPattern(TOKEN_PATTERN))
                .header("Tandem-Position", "0.0");
    }

    @Test
    void unknownConsistencyIs400NamingTheHeader() {
        given().header("Tandem-Consistency", "linearizable")
                .when().get("/v1/kv/a")
                .then().statusCode(400)
                .body("code", equalTo("INVALID_ARGUMENT"))
                .body("detail", containsString("Tandem-Consistency"));
    }

    @Test
    void unknownWriteConcernIs400() {
        given().header("Tandem-Write-Concern", "quorum").body("v")
                .when().put("/v1/kv/a")
                .then().statusCode(400).body("detail", containsString("Tandem-Write-Concern"));
    }

    @Test
    void malformedIfMatchIs400() {
        given().header("If-Match", "\"abc\"").body("v")
                .when().put("/v1/kv/a")
                .then().statusCode(400).body("detail", containsString("If-Match"));
    }

    @Test
    void malformedTxnBodyIs400ProblemNotAFrameworkError() {
        given().body("{\"ops\": [{\"op\": \"put\", \"key\": \"a\"}]}").contentType("application/json")
                .when().post("/v1/txn")
                .then().statusCode(400).contentType("application/problem+json")
                .body("detail", containsString("ops[0] (put) needs exactly one of"));
        given().body("{not json").contentType("application/json")
                .when().post("/v1/txn")
                .then().statusCode(400).contentType("application/problem+json")
                .body("detail", containsString("not valid JSON"));
    }

    @Test
    void scanLimitOutOfRangeIs400() {
        given().queryParam("limit", "0").when().get("/v1/kv")
                .then().statusCode(400).body("detail", containsString("limit must be in 1..10000"));
    }

    @Test
    void clusterViewShowsTheUnreachableReplicaAndNoLeader() {
        given().when().get("/v1/cluster")
                .then().statusCode(200)
                .header("Tandem-Session", matchesPattern(TOKEN_PATTERN))
                .header("Tandem-Served-By", "router")
                .body("leader", equalTo(null))
                .body("replicas[0].id", equalTo("r1"))
                .body("replicas[0].healthy", equalTo(false))
                .body("replicas[0].address", equalTo("127.0.0.1:9"));
    }

    @Test
    void metricsUseTheConventionNames() {
        given().body("v").when().put("/v1/kv/metrics-probe").then().statusCode(503);
        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("tandem_router_requests_total{"))
                .body(containsString("outcome=\"NO_LEADER\""))
                .body(containsString("tandem_router_leader_fallbacks_total{reason=\"no_follower\"}"))
                .body(containsString("tandem_router_request_seconds_bucket{"))
                .body(containsString("tandem_router_added_latency_seconds"))
                .body(containsString("tandem_router_write_handovers_total 0.0"))
                .body(containsString("tandem_router_known_leader_epoch 0.0"));
    }

    @Test
    void openApiDocumentsTheKvApi() {
        given().when().get("/q/openapi?format=json").then().statusCode(200)
                .body("paths.'/v1/kv/{key}'.put", notNullValue())
                .body("paths.'/v1/txn'.post", notNullValue())
                .body("paths.'/v1/cluster'.get", notNullValue())
                // Declared as the API behaves: every documented answer, limit an integer, ETag on reads.
                .body("paths.'/v1/kv/{key}'.put.responses.keySet()", hasItems("200", "201", "400", "409", "412", "413", "503", "504"))
                .body("paths.'/v1/kv/{key}'.get.responses.keySet()", hasItems("200", "304", "404", "410", "412", "503"))
                .body("paths.'/v1/kv/{key}'.get.responses.'200'.headers.ETag", notNullValue())
                .body("paths.'/v1/kv/{key}'.delete.responses.keySet()", hasItems("204", "404", "412", "504"))
                .body("paths.'/v1/txn'.post.responses.keySet()", hasItems("200", "409", "415", "504"))
                .body("paths.'/v1/kv'.get.parameters.find { it.name == 'limit' }.schema.type", equalTo("integer"))
                .body("paths.'/v1/kv'.get.parameters.find { it.name == 'Tandem-Consistency' }.description", containsString("eventual"));
    }
}
