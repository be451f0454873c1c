package dev.tandem.router.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.process.ServiceProcess;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Idempotency-Key through the router against three real replica processes (r1 leads epoch 1):
 * an exact retry answers as the first call did (status and body), and a key reused for another
 * request is refused with 422 IDEMPOTENCY_KEY_REUSED without writing anything (as the IETF
 * httpapi Idempotency-Key draft and Stripe answer it).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RouterIdempotencyIT {

    private TandemCluster cluster;
    private ServiceProcess router;

    @BeforeAll
    void start() {
        cluster = new TandemCluster("router-idempotency", 3, Map.of());
        cluster.starting(() -> {
            cluster.formWithLeader("r1");
            router = cluster.startRouter("router", Map.of());
            TandemCluster.awaitRouterLeader(router, "r1");
        });
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static Response putWithKey(Client c, ServiceProcess router, String idempotencyKey, String key, String json) {
        return c.keep(c.on(router).header("Idempotency-Key", idempotencyKey).contentType("application/json").body(json)
                .put("/v1/kv/" + key));
    }

    /** A read at `strong`: what the leader holds, whatever the session has seen. */
    private Response strongGet(String key) {
        return new Client().on(router).header("Tandem-Consistency", "strong").get("/v1/kv/" + key);
    }

    private static void assertReuseRefused(Response r) {
        assertEquals(422, r.statusCode(), r.asString());
        assertTrue(r.getContentType().startsWith("application/problem+json"), r.getContentType());
        JsonPath p = r.jsonPath();
        assertEquals("IDEMPOTENCY_KEY_REUSED", p.getString("code"));
        assertEquals(422, p.getInt("status"));
        assertTrue(p.getString("detail").contains("nothing was written"), p.getString("detail"));
    }

    @Test
    void anExactRetryOfACreateAnswersAsTheFirstCallDid() {
        Client c = new Client();
        Response first = putWithKey(c, router, "order-17-create", "order/17", "{\"total\": 42}");
        assertEquals(201, first.statusCode(), first.asString());
        assertEquals("false", first.getHeader("Tandem-Replayed"));

        // Another write concern asks how long to wait, not what to write: still the same request.
        Response retry = c.keep(c.on(router).header("Idempotency-Key", "order-17-create").header("Tandem-Write-Concern", "majority")
                .contentType("application/json").body("{\"total\": 42}").put("/v1/kv/order/17"));
        assertEquals(201, retry.statusCode(), retry.asString());
        assertEquals("true", retry.getHeader("Tandem-Replayed"));
        assertEquals(first.getHeader("ETag"), retry.getHeader("ETag"));
        assertEquals(first.jsonPath().getString("key"), retry.jsonPath().getString("key"));
        assertEquals(first.jsonPath().getString("version"), retry.jsonPath().getString("version"));
        assertTrue(retry.jsonPath().getBoolean("created"));
        assertTrue(retry.jsonPath().getBoolean("replayed"));
        assertNull(retry.jsonPath().getString("previousVersion"));
    }

    @Test
    void anExactRetryOfAnOverwriteKeepsThePreviousVersion() {
        Client c = new Client();
        Response created = c.put(router, "over/k", "v1");
        Response first = putWithKey(c, router, "over-k-2", "over/k", "\"v2\"");
        assertEquals(200, first.statusCode(), first.asString());
        assertEquals(created.getHeader("Tandem-Position"), first.jsonPath().getString("previousVersion"));
        Response retry = putWithKey(c, router, "over-k-2", "over/k", "\"v2\"");
        assertEquals(200, retry.statusCode(), retry.asString());
        assertFalse(retry.jsonPath().getBoolean("created"));
        assertEquals(first.jsonPath().getString("previousVersion"), retry.jsonPath().getString("previousVersion"));
        assertEquals(first.jsonPath().getString("version"), retry.jsonPath().getString("version"));
    }

    @Test
    void aKeyReusedForAnotherKeyOrBodyOrMethodIsRefusedAndNothingIsWritten() {
        Client c = new Client();
        Response first = putWithKey(c, router, "order-20-create", "order/20", "{\"total\": 42}");
        assertEquals(201, first.statusCode(), first.asString());
        c.put(router, "idk", "keep me");

        assertReuseRefused(putWithKey(c, router, "order-20-create", "order/21", "{\"total\": 42}"));
        assertEquals(404, strongGet("order/21").statusCode(), "the refused write to another key happened");

        assertReuseRefused(putWithKey(c, router, "order-20-create", "order/20", "{\"total\": 43}"));
        Response value = strongGet("order/20");
        assertEquals("{\"total\": 42}", value.asString());
        assertEquals(first.getHeader("ETag"), value.getHeader("ETag"), "the refused body was written");

        assertReuseRefused(c.keep(c.on(router).header("Idempotency-Key", "order-20-create").delete("/v1/kv/idk")));
        assertEquals("keep me", strongGet("idk").asString(), "the refused delete happened");

        // The original request is still replayed after the refusals.
        Response retry = putWithKey(c, router, "order-20-create", "order/20", "{\"total\": 42}");
        assertEquals(201, retry.statusCode(), retry.asString());
        assertEquals("true", retry.getHeader("Tandem-Replayed"));
    }

    @Test
    void anExactRetryOfADeleteOfAMissingKeyIs404Again() {
        Client c = new Client();
        Response first = c.keep(c.on(router).header("Idempotency-Key", "del-missing").delete("/v1/kv/never/written"));
        assertEquals(404, first.statusCode(), first.asString());
        assertEquals("NOT_FOUND", first.jsonPath().getString("code"));
        Response retry = c.keep(c.on(router).header("Idempotency-Key", "del-missing").delete("/v1/kv/never/written"));
        assertEquals(404, retry.statusCode(), retry.asString());
        assertEquals("NOT_FOUND", retry.jsonPath().getString("code"));
        assertEquals(first.getHeader("Tandem-Position"), retry.getHeader("Tandem-Position"), "the retry reports the original delete");

        // A delete that did delete is 204 on its retry too.
        c.put(router, "del/present", "x");
        Response deleted = c.keep(c.on(router).header("Idempotency-Key", "del-present").delete("/v1/kv/del/present"));
        assertEquals(204, deleted.statusCode(), deleted.asString());
        Response again = c.keep(c.on(router).header("Idempotency-Key", "del-present").delete("/v1/kv/del/present"));
        assertEquals(204, again.statusCode(), again.asString());
        assertEquals("true", again.getHeader("Tandem-Replayed"));
    }

    @Test
    void anExactRetryOfATxnHasTheOriginalResultsAndAReuseAppliesNothing() {
        Client c = new Client();
        c.put(router, "txn-idem/old", "o");
        String txn = """
                {"ops": [
                  {"op": "put", "key": "txn-idem/new", "value": "n"},
                  {"op": "delete", "key": "txn-idem/old"},
                  {"op": "delete", "key": "txn-idem/missing"}
                ]}""";
        Response first = c.keep(c.on(router).header("Idempotency-Key", "txn-1").contentType("application/json").body(txn).post("/v1/txn"));
        assertEquals(200, first.statusCode(), first.asString());
        assertEquals(3, first.jsonPath().getList("results").size(), first.asString());
        assertFalse(first.jsonPath().getBoolean("results[0].existed"));
        assertTrue(first.jsonPath().getBoolean("results[1].existed"));

        Response retry = c.keep(c.on(router).header("Idempotency-Key", "txn-1").contentType("application/json").body(txn).post("/v1/txn"));
        assertEquals(200, retry.statusCode(), retry.asString());
        assertTrue(retry.jsonPath().getBoolean("replayed"));
        assertEquals(first.jsonPath().getString("position"), retry.jsonPath().getString("position"));
        assertEquals(first.jsonPath().getList("results"), retry.jsonPath().getList("results"));

        String other = """
                {"ops": [{"op": "put", "key": "txn-idem/other", "value": "o"}]}""";
        assertReuseRefused(c.keep(c.on(router).header("Idempotency-Key", "txn-1").contentType("application/json").body(other).post("/v1/txn")));
        assertEquals(404, strongGet("txn-idem/other").statusCode(), "the refused transaction was applied");
    }
}
