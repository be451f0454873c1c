package dev.tandem.router.it;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.process.ServiceProcess;
import io.restassured.response.Response;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The router's API and routing against three real replica processes (r1 leads epoch 1) and two
 * real router processes. Tests that pause a follower resume it and wait for it before returning.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RouterApiIT {

    private TandemCluster cluster;
    private ServiceProcess routerA;
    private ServiceProcess routerB;

    @BeforeAll
    void start() {
        // Short confirm timeout so that the 504 test does not wait the default 5 s.
        cluster = new TandemCluster("router-api", 3, Map.of("tandem.replica.confirm-timeout-ms", "1000"));
        cluster.starting(() -> {
            cluster.formWithLeader("r1");
            routerA = cluster.startRouter("routerA", Map.of());
            routerB = cluster.startRouter("routerB", Map.of());
            awaitRouterSeesAllFollowers(routerA);
            awaitRouterSeesAllFollowers(routerB);
        });
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private void awaitRouterSeesAllFollowers(ServiceProcess router) {
        TandemCluster.awaitCondition(Duration.ofSeconds(20), router.name() + " sees leader r1 and two streaming followers", () -> {
            Response r = new Client().on(router).get("/v1/cluster");
            List<Map<String, Object>> reps = r.jsonPath().getList("replicas");
            long streaming = reps.stream().filter(m -> "follower".equals(m.get("role")) && Boolean.TRUE.equals(m.get("streaming"))
                    && Boolean.TRUE.equals(m.get("healthy"))).count();
            return "r1".equals(r.jsonPath().getString("leader")) && streaming == 2;
        });
    }

    /** Waits until every follower has applied {@code lsn}, as the router sees it. */
    private void awaitFollowersApplied(ServiceProcess router, long lsn) {
        TandemCluster.awaitCondition(Duration.ofSeconds(20), "followers applied " + lsn, () -> {
            List<Map<String, Object>> reps = new Client().on(router).get("/v1/cluster").jsonPath().getList("replicas");
            return reps.stream().filter(m -> "follower".equals(m.get("role")))
                    .allMatch(m -> ((Number) m.get("appliedLsn")).longValue() >= lsn && Boolean.TRUE.equals(m.get("healthy")));
        });
    }

    @Test
    void putThenGetRoundTripsValueContentTypeAndVersion() {
        Client c = new Client();
        Response put = c.put(routerA, "rt/greeting", "hello");
        assertTrue(put.statusCode() == 201, put.asString());
        String etag = put.getHeader("ETag");
        assertTrue(etag.matches("\"1\\.\\d+\""), etag);
        assertEquals(etag, "\"" + put.getHeader("Tandem-Position") + "\"");
        assertEquals("r1", put.getHeader("Tandem-Served-By"));
        assertEquals(LogPosition.parse(etag.replace("\"", "")), c.position());

        Response get = c.get(routerA, "rt/greeting");
        assertEquals(200, get.statusCode(), get.asString());
        assertEquals("hello", get.asString());
        assertTrue(get.getContentType().startsWith("text/plain"), get.getContentType());
        assertEquals(etag, get.getHeader("ETag"));
        assertTrue(LogPosition.parse(get.getHeader("Tandem-Position")).compareTo(LogPosition.parse(etag.replace("\"", ""))) >= 0);
        // HEAD: the GET's headers, its length included, and no body.
        Response head = c.keep(c.on(routerA).head("/v1/kv/rt/greeting"));
        assertEquals(200, head.statusCode());
        assertEquals("5", head.getHeader("Content-Length"));
        assertEquals(etag, head.getHeader("ETag"));
        assertEquals("", head.asString());

        // curl --data sends application/x-www-form-urlencoded: the body is still the value, byte for byte.
        Response form = c.keep(c.on(routerA).contentType("application/x-www-form-urlencoded").body("a=1&b=%20").put("/v1/kv/rt/form"));
        assertEquals(201, form.statusCode(), form.asString());
        assertEquals("a=1&b=%20", c.get(routerA, "rt/form").asString());
        Response json = c.keep(c.on(routerA).contentType("application/json").body("{\"n\": 1}").put("/v1/kv/rt/json"));
        assertEquals(201, json.statusCode(), json.asString());
        Response jsonBack = c.get(routerA, "rt/json");
        assertEquals("{\"n\": 1}", jsonBack.asString());
        assertTrue(jsonBack.getContentType().startsWith("application/json"), jsonBack.getContentType());

        Response again = c.put(routerA, "rt/greeting", "hello again");
        assertEquals(200, again.statusCode(), "overwrite is 200, not 201");
        assertEquals(etag.replace("\"", ""), again.jsonPath().getString("previousVersion"));
    }

    @Test
    void readYourWritesHoldsWhileAFollowerIsPausedAndWhileItCatchesUp() {
        List<Client> sessions = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            sessions.add(new Client());
        }
        ServiceProcess r3 = cluster.replica("r3");
        r3.pause();
        try {
            for (int round = 0; round < 3; round++) {
                writeThenReadOwnWrite(sessions, "ryw-paused", round);
            }
        } finally {
            r3.resume();
        }
        // r3 is alive again and behind: sessions homed on it must not read from it until it has their write.
        for (int round = 3; round < 9; round++) {
            writeThenReadOwnWrite(sessions, "ryw-resumed", round);
        }
        awaitRouterSeesAllFollowers(routerA);
    }

    private void writeThenReadOwnWrite(List<Client> sessions, String prefix, int round) {
        for (int s = 0; s < sessions.size(); s++) {
            Client c = sessions.get(s);
            String key = prefix + "/" + s;
            String value = "v" + round;
            Response w = c.put(routerA, key, value);
            assertTrue(w.statusCode() == 200 || w.statusCode() == 201, w.asString());
            Response r = c.get(routerA, key);
            assertEquals(200, r.statusCode(), r.asString());
            assertEquals(value, r.asString(), "session " + c.token() + " read " + key + " from " + r.getHeader("Tandem-Served-By"));
        }
    }

    @Test
    void withoutLagMostSessionReadsAreServedByFollowers() {
        List<Client> sessions = new ArrayList<>();
        long maxLsn = 0;
        for (int i = 0; i < 20; i++) {
            Client c = new Client();
            c.put(routerA, "spread/" + i, "x" + i);
            sessions.add(c);
            maxLsn = Math.max(maxLsn, c.position().lsn());
        }
        awaitFollowersApplied(routerA, maxLsn);
        Map<String, Integer> servedBy = new HashMap<>();
        int reads = 0;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < sessions.size(); i++) {
                Response r = sessions.get(i).get(routerA, "spread/" + i);
                assertEquals("x" + i, r.asString());
                servedBy.merge(r.getHeader("Tandem-Served-By"), 1, Integer::sum);
                reads++;
            }
        }
        int byFollowers = reads - servedBy.getOrDefault("r1", 0);
        assertTrue(byFollowers >= reads * 9 / 10, "only " + byFollowers + " of " + reads + " session reads on followers: " + servedBy);
        assertTrue(servedBy.containsKey("r2") && servedBy.containsKey("r3"), "sessions spread over both followers: " + servedBy);
    }

    @Test
    void conditionalWritesFollowIfMatchAndIfNoneMatch() {
        Client c = new Client();
        Response created = c.keep(c.on(routerA).header("If-None-Match", "*").body("1").put("/v1/kv/cond/k"));
        assertEquals(201, created.statusCode(), created.asString());
        String v1 = created.getHeader("ETag");

        Response exists = c.keep(c.on(routerA).header("If-None-Match", "*").body("2").put("/v1/kv/cond/k"));
        assertEquals(412, exists.statusCode(), exists.asString());
        exists.then().contentType("application/problem+json").body("code", equalTo("CONDITION_FAILED"));

        Response wrong = c.keep(c.on(routerA).header("If-Match", "\"1.999999\"").body("2").put("/v1/kv/cond/k"));
        assertEquals(412, wrong.statusCode(), wrong.asString());

        Response right = c.keep(c.on(routerA).header("If-Match", v1).body("2").put("/v1/kv/cond/k"));
        assertEquals(200, right.statusCode(), right.asString());
        String v2 = right.getHeader("ETag");
        assertNotEquals(v1, v2);

        Response staleDelete = c.keep(c.on(routerA).header("If-Match", v1).delete("/v1/kv/cond/k"));
        assertEquals(412, staleDelete.statusCode(), staleDelete.asString());
        assertEquals("2", c.get(routerA, "cond/k").asString(), "a failed condition changes nothing");

        Response delete = c.keep(c.on(routerA).header("If-Match", v2).delete("/v1/kv/cond/k"));
        assertEquals(204, delete.statusCode(), delete.asString());
        Response gone = c.get(routerA, "cond/k");
        assertEquals(404, gone.statusCode());
        gone.then().contentType("application/problem+json").body("code", equalTo("NOT_FOUND"));
        Response deleteAgain = c.keep(c.on(routerA).delete("/v1/kv/cond/k"));
        assertEquals(404, deleteAgain.statusCode(), deleteAgain.asString());
    }

    @Test
    void txnAppliesAllOrNothingAndAFailedConditionIs409() {
        Client c = new Client();
        String va = c.put(routerA, "txn/a", "a1").getHeader("Tandem-Position");
        c.put(routerA, "txn/b", "b1");

        Response ok = c.keep(c.on(routerA).contentType("application/json").body("""
                {"ops": [
                  {"op": "check", "key": "txn/a", "condition": {"version": "%s"}},
                  {"op": "put", "key": "txn/a", "value": "a2"},
                  {"op": "delete", "key": "txn/b"},
                  {"op": "put", "key": "txn/c", "value": "c1", "condition": {"exists": false}}
                ]}""".formatted(va)).post("/v1/txn"));
        assertEquals(200, ok.statusCode(), ok.asString());
        ok.then().body("results", hasSize(4)).body("results[2].existed", equalTo(true)).body("results[3].existed", equalTo(false));
        assertEquals("a2", c.get(routerA, "txn/a").asString());
        assertEquals(404, c.get(routerA, "txn/b").statusCode());
        assertEquals("c1", c.get(routerA, "txn/c").asString());

        Response conflict = c.keep(c.on(routerA).contentType("application/json").body("""
                {"ops": [
                  {"op": "put", "key": "txn/d", "value": "d1"},
                  {"op": "check", "key": "txn/a", "condition": {"version": "%s"}},
                  {"op": "put", "key": "txn/a", "value": "a3"}
                ]}""".formatted(va)).post("/v1/txn"));
        assertEquals(409, conflict.statusCode(), conflict.asString());
        conflict.then().contentType("application/problem+json")
                .body("code", equalTo("VERSION_CONFLICT")).body("opIndex", equalTo(1));
        assertEquals(404, c.get(routerA, "txn/d").statusCode(), "no op of a rejected batch is applied");
        assertEquals("a2", c.get(routerA, "txn/a").asString());
    }

    @Test
    void twoRoutersServingOneSessionAlternatelyKeepReadYourWritesAndMonotonicReads() {
        Client c = new Client();
        LogPosition lastSeen = LogPosition.ZERO;
        for (int i = 0; i < 24; i++) {
            ServiceProcess writer = i % 2 == 0 ? routerA : routerB;
            ServiceProcess reader = i % 2 == 0 ? routerB : routerA;
            Response w = c.put(writer, "alt/k", "v" + i);
            assertTrue(w.statusCode() == 200 || w.statusCode() == 201, w.asString());
            Response r = c.get(reader, "alt/k");
            assertEquals("v" + i, r.asString(), "read through " + reader.name() + " served by " + r.getHeader("Tandem-Served-By"));
            LogPosition served = LogPosition.parse(r.getHeader("Tandem-Position"));
            assertTrue(served.compareTo(lastSeen) >= 0, "read went back from " + lastSeen + " to " + served);
            lastSeen = served;
        }
    }

    @Test
    void idempotencyKeyAppliesAWriteOnce() {
        Client c = new Client();
        Response first = c.keep(c.on(routerA).header("Idempotency-Key", "idem-1").body("once").put("/v1/kv/idem/k"));
        assertEquals(201, first.statusCode(), first.asString());
        Response retry = c.keep(c.on(routerB).header("Idempotency-Key", "idem-1").body("once").put("/v1/kv/idem/k"));
        assertEquals(201, retry.statusCode(), "the retry answers as the first call did: " + retry.asString());
        assertEquals("true", retry.getHeader("Tandem-Replayed"));
        assertEquals(first.getHeader("Tandem-Position"), retry.getHeader("Tandem-Position"), "the retry reports the original write");
    }

    @Test
    void scanPagesThroughAPrefixInKeyOrder() {
        Client c = new Client();
        for (int i = 0; i < 5; i++) {
            c.put(routerA, "scan/" + i, "s" + i);
        }
        Response p1 = c.keep(c.on(routerA).queryParam("prefix", "scan/").queryParam("limit", 3).get("/v1/kv"));
        assertEquals(200, p1.statusCode(), p1.asString());
        p1.then().body("items", hasSize(3)).body("items[0].key", equalTo("scan/0")).body("items[0].value", equalTo("czA="))
                .body("nextCursor", notNullValue());
        Response p2 = c.keep(c.on(routerA).queryParam("prefix", "scan/").queryParam("limit", 3)
                .queryParam("cursor", p1.jsonPath().getString("nextCursor")).get("/v1/kv"));
        p2.then().statusCode(200).body("items", hasSize(2)).body("items[1].key", equalTo("scan/4"));
    }

    @Test
    void strongReadsAreServedByTheLeaderAndEventualReadsByFollowers() {
        Client c = new Client();
        c.put(routerA, "lvl/k", "v");
        awaitFollowersApplied(routerA, c.position().lsn());
        Response strong = c.keep(c.on(routerA).header("Tandem-Consistency", "strong").get("/v1/kv/lvl/k"));
        assertEquals("v", strong.asString());
        assertEquals("r1", strong.getHeader("Tandem-Served-By"));
        Response eventual = c.keep(c.on(routerA).header("Tandem-Consistency", "eventual").get("/v1/kv/lvl/k"));
        assertEquals(200, eventual.statusCode());
        assertNotEquals("r1", eventual.getHeader("Tandem-Served-By"));
        Response bounded = c.keep(c.on(routerA).header("Tandem-Consistency", "bounded;max-staleness-ms=5000").get("/v1/kv/lvl/k"));
        assertEquals(200, bounded.statusCode(), bounded.asString());
    }

    @Test
    void oversizedKeysAndValuesAre400WithTheReplicasReason() {
        Client c = new Client();
        Response key = c.keep(c.on(routerA).body("v").put("/v1/kv/" + "k".repeat(2000)));
        assertEquals(400, key.statusCode(), key.asString());
        key.then().contentType("application/problem+json").body("code", equalTo("KEY_TOO_LARGE"))
                // A single-key request has no ops: no "op 0", no opIndex.
                .body("detail", startsWith("the key has 2000 bytes")).body("opIndex", nullValue());
        Response value = c.keep(c.on(routerA).body(new byte[1_100_000]).put("/v1/kv/big"));
        assertEquals(400, value.statusCode(), value.asString());
        value.then().body("code", equalTo("VALUE_TOO_LARGE"));
        Response badHeader = c.keep(c.on(routerA).header("Tandem-Consistency", "bounded").get("/v1/kv/x"));
        badHeader.then().statusCode(400).body("detail", containsString("max-staleness-ms"));
    }

    /** For what rest-assured cannot send: chunked bodies, Expect: 100-continue. */
    private static final HttpClient HTTP_1_1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Test
    void aPutBodyIsStoredAsItsBytesWhateverItsTypeAndExpectContinueIsAnswered() throws Exception {
        // Not a valid form although typed as one: the router must not decode it.
        byte[] notAForm = {'%', 'z', 'z', '=', 0, (byte) 0xff, '&', '&'};
        URI uri = URI.create(routerA.httpUrl() + "/v1/kv/raw-form");
        // A client that expects 100-continue sends the body only once told to: without the interim
        // answer this request would wait out its timeout.
        HttpResponse<String> put = HTTP_1_1.send(HttpRequest.newBuilder(uri).expectContinue(true).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(notAForm)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        HttpResponse<byte[]> get = HTTP_1_1.send(HttpRequest.newBuilder(uri).header("Tandem-Consistency", "strong").build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, get.statusCode());
        assertEquals("application/x-www-form-urlencoded", get.headers().firstValue("Content-Type").orElse(""));
        assertTrue(Arrays.equals(notAForm, get.body()), "stored bytes differ");
    }

    @Test
    void aBodyOverTheHttpLimitIs413AndWritesNothing() throws Exception {
        // 5 MiB (quarkus.http.limits.max-body-size) plus one byte: declared up front, and chunked
        // (no length known until the end), where the limit must hold while the body is read.
        byte[] tooBig = new byte[5 * 1024 * 1024 + 1];
        URI uri = URI.create(routerA.httpUrl() + "/v1/kv/too-big");
        HttpResponse<String> declared = HTTP_1_1.send(HttpRequest.newBuilder(uri)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(tooBig)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, declared.statusCode(), declared.body());
        HttpResponse<String> chunked = HTTP_1_1.send(HttpRequest.newBuilder(uri)
                .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(tooBig))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(413, chunked.statusCode(), chunked.body());
        Client c = new Client();
        assertEquals(404, c.keep(c.on(routerA).header("Tandem-Consistency", "strong").get("/v1/kv/too-big")).statusCode());
    }

    @Test
    void missingKeyIs404Problem() {
        Client c = new Client();
        Response r = c.get(routerA, "no/such/key");
        assertEquals(404, r.statusCode());
        r.then().contentType("application/problem+json").body("code", equalTo("NOT_FOUND"))
                .header("Tandem-Session", matchesPattern("v1\\.[0-9a-f]{16}\\.\\d+\\.\\d+"));
    }

    @Test
    void writeConcernAllWithAPausedFollowerIs504WithTheWritesPosition() {
        ServiceProcess r3 = cluster.replica("r3");
        r3.pause();
        try {
            Client c = new Client();
            Response r = c.keep(c.on(routerA).header("Tandem-Write-Concern", "all").body("v").put("/v1/kv/unconfirmed/k"));
            assertEquals(504, r.statusCode(), r.asString());
            r.then().contentType("application/problem+json").body("code", equalTo("NOT_CONFIRMED")).body("position", notNullValue());
            LogPosition pos = LogPosition.parse(r.jsonPath().getString("position"));
            assertEquals(pos.toString(), r.getHeader("Tandem-Position"));
            // The write is durable on the leader: the session includes it (read-your-writes).
            assertEquals(pos, c.position(), "the 504's Tandem-Session names the write's position");
            // Durable on the leader: a strong read sees it.
            Response read = c.keep(c.on(routerA).header("Tandem-Consistency", "strong").get("/v1/kv/unconfirmed/k"));
            assertEquals("v", read.asString());
            assertEquals("\"" + pos + "\"", read.getHeader("ETag"));
        } finally {
            r3.resume();
        }
        awaitRouterSeesAllFollowers(routerA);
    }

    @Test
    void aValueStoredWithAnUnparseableContentTypeIsServedAsBytesNeverHangs() throws Exception {
        // Written past the router (which now refuses such a type), as values stored before that check were.
        for (String type : new String[] {"garbage", "text/", "a b", "/"}) {
            String key = "badtype/" + type.replace(" ", "_").replace("/", "s");
            WriteRequest w = WriteRequest.newBuilder().setRequestId("it-" + key).setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                    .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8("x")).setContentType(type)))
                    .build();
            assertEquals(0, cluster.write("r1", w).getError().getCodeValue(), type);
            URI uri = URI.create(routerA.httpUrl() + "/v1/kv/" + key);
            HttpResponse<String> get = HTTP_1_1.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                    .header("Tandem-Consistency", "strong").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, get.statusCode(), type + ": " + get.body());
            assertEquals("x", get.body());
            assertEquals("application/octet-stream", get.headers().firstValue("Content-Type").orElse(""), type);
            HttpResponse<String> head = HTTP_1_1.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).header("Tandem-Consistency", "strong").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, head.statusCode(), type);
            assertEquals("application/octet-stream", head.headers().firstValue("Content-Type").orElse(""), type);
        }
    }

    @Test
    void keysAreStoredExactlyAsSentNeverNormalized() throws Exception {
        String[] sent = {"exact/a/../b2", "exact/x//y", "exact/x/./y", "exact/a%2F..%2Fb3", "exact/%E2%82%AC"};
        String[] stored = {"exact/a/../b2", "exact/x//y", "exact/x/./y", "exact/a/../b3", "exact/€"};
        for (int i = 0; i < sent.length; i++) {
            HttpResponse<String> put = HTTP_1_1.send(HttpRequest.newBuilder(URI.create(routerA.httpUrl() + "/v1/kv/" + sent[i]))
                    .timeout(Duration.ofSeconds(10)).header("Tandem-Write-Concern", "all")
                    .PUT(HttpRequest.BodyPublishers.ofString("v" + i)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(201, put.statusCode(), sent[i] + ": " + put.body());
            assertTrue(put.body().contains("\"key\":\"" + stored[i] + "\""), put.body());
            assertEquals("v" + i, cluster.get("r1", stored[i]).getValue().toStringUtf8(), sent[i]);
        }
        assertTrue(!cluster.get("r1", "exact/b2").getFound() && !cluster.get("r1", "exact/x/y").getFound(), "no normalized key was written");
        HttpResponse<String> get = HTTP_1_1.send(HttpRequest.newBuilder(URI.create(routerA.httpUrl() + "/v1/kv/exact/x//y"))
                .header("Tandem-Consistency", "strong").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals("v1", get.body());
        HttpResponse<String> delete = HTTP_1_1.send(HttpRequest.newBuilder(URI.create(routerA.httpUrl() + "/v1/kv/exact/x/./y"))
                .DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(204, delete.statusCode(), delete.body());
        assertTrue(!cluster.get("r1", "exact/x/./y").getFound() && cluster.get("r1", "exact/x//y").getFound());
    }

    @Test
    void conditionalGetsAnswer304And412() {
        Client c = new Client();
        String etag = c.put(routerA, "cget/k", "v").getHeader("ETag");
        Response notModified = c.keep(c.on(routerA).header("If-None-Match", etag).get("/v1/kv/cget/k"));
        assertEquals(304, notModified.statusCode());
        assertEquals("", notModified.asString());
        assertEquals(etag, notModified.getHeader("ETag"));
        assertTrue(notModified.getHeader("Tandem-Position") != null && notModified.getHeader("Tandem-Served-By") != null);
        // Weak comparison for If-None-Match; a list matches when any tag does.
        assertEquals(304, c.keep(c.on(routerA).header("If-None-Match", "\"9.9\", W/" + etag).get("/v1/kv/cget/k")).statusCode());
        assertEquals(304, c.keep(c.on(routerA).header("If-None-Match", "*").get("/v1/kv/cget/k")).statusCode());
        Response changed = c.keep(c.on(routerA).header("If-None-Match", "\"1.999999\"").get("/v1/kv/cget/k"));
        assertEquals(200, changed.statusCode());
        assertEquals("v", changed.asString());

        Response failed = c.keep(c.on(routerA).header("If-Match", "\"1.999999\"").get("/v1/kv/cget/k"));
        assertEquals(412, failed.statusCode(), failed.asString());
        failed.then().contentType("application/problem+json").body("code", equalTo("CONDITION_FAILED"));
        // Strong comparison for If-Match: the weak form of the current tag does not match.
        assertEquals(412, c.keep(c.on(routerA).header("If-Match", "W/" + etag).get("/v1/kv/cget/k")).statusCode());
        assertEquals(200, c.keep(c.on(routerA).header("If-Match", etag).get("/v1/kv/cget/k")).statusCode());
        assertEquals(412, c.keep(c.on(routerA).header("If-Match", "*").get("/v1/kv/cget/missing")).statusCode());
        assertEquals(404, c.keep(c.on(routerA).header("If-None-Match", "*").get("/v1/kv/cget/missing")).statusCode());

        Response weakPut = c.keep(c.on(routerA).header("If-Match", "W/" + etag).body("w").put("/v1/kv/cget/k"));
        assertEquals(412, weakPut.statusCode(), weakPut.asString());
        assertEquals("v", c.get(routerA, "cget/k").asString(), "a weak If-Match wrote nothing");
    }

    @Test
    void txnAnswersCarryTandemReplayed() {
        Client c = new Client();
        String body = "{\"ops\": [{\"op\": \"put\", \"key\": \"txnreplay/a\", \"value\": \"1\"}]}";
        Response first = c.keep(c.on(routerA).contentType("application/json").header("Idempotency-Key", "txn-replay-1").body(body).post("/v1/txn"));
        assertEquals(200, first.statusCode(), first.asString());
        assertEquals("false", first.getHeader("Tandem-Replayed"));
        Response again = c.keep(c.on(routerB).contentType("application/json").header("Idempotency-Key", "txn-replay-1").body(body).post("/v1/txn"));
        assertEquals(200, again.statusCode(), again.asString());
        assertEquals("true", again.getHeader("Tandem-Replayed"));
    }
}
