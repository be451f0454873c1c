package dev.tandem.router.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.process.ServiceProcess;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import io.restassured.response.Response;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The router's read cache against real replicas: session and eventual gets are answered from it,
 * and it never answers what a session must not see. Every write here is read back at once through
 * the cache path, including writes the router never saw (sent to the leader directly).
 */
class RouterReadCacheIT {

    private static TandemCluster cluster;
    private static ServiceProcess router;

    @BeforeAll
    static void start() {
        cluster = new TandemCluster("read-cache", 3, Map.of());
        cluster.starting(() -> {
            cluster.formWithLeader("r1");
            router = cluster.startRouter("router", Map.of());
            TandemCluster.awaitRouterLeader(router, "r1");
        });
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aSessionReadsEveryOneOfItsWritesBackWhileRepeatedReadsAreAnsweredFromTheCache() {
        Client c = new Client();
        assertEquals(201, c.put(router, "ryw", "v-first").statusCode());
        TandemCluster.awaitCondition(Duration.ofSeconds(20), "a read answered from a follower's read cache", () -> {
            double before = hits();
            assertEquals("v-first", c.get(router, "ryw").asString());
            return hits() > before;
        });
        double hitsBefore = hits();
        for (int i = 0; i < 40; i++) {
            assertEquals(200, c.put(router, "ryw", "v" + i).statusCode());
            for (int read = 0; read < 3; read++) {
                Response r = c.get(router, "ryw");
                assertEquals(200, r.statusCode(), r.asString());
                assertEquals("v" + i, r.asString(), "round " + i + ", read " + read + " (served by " + r.getHeader("Tandem-Served-By") + ")");
                assertTrue(r.getHeader("Tandem-Served-By").matches("r[123]"));
            }
        }
        assertTrue(hits() > hitsBefore, "repeated reads of a key are answered from the cache");
        assertEquals(204, c.keep(c.on(router).delete("/v1/kv/ryw")).statusCode());
        for (int read = 0; read < 5; read++) {
            Response r = c.get(router, "ryw");
            assertEquals(404, r.statusCode(), "deleted, read " + read + ": " + r.asString());
        }
    }

    @Test
    void aWriteTheRouterNeverSawReachesCachedReadsThroughTheChangeStream() {
        Client writer = new Client();
        assertEquals(201, writer.put(router, "shared", "from-router").statusCode());
        Client reader = new Client();
        TandemCluster.awaitCondition(Duration.ofSeconds(20), "the key cached", () -> {
            double before = hits();
            Response r = reader.keep(reader.on(router).header("Tandem-Consistency", "eventual").get("/v1/kv/shared"));
            return r.statusCode() == 200 && "from-router".equals(r.asString()) && hits() > before;
        });
        // Straight to the leader over gRPC: the router learns of it only from the followers' streams.
        WriteRequest direct = WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("shared").setValue(ByteString.copyFromUtf8("direct"))
                        .setContentType("text/plain"))).build();
        assertEquals(ErrorCode.OK, cluster.write("r1", direct).getError().getCode());
        TandemCluster.awaitCondition(Duration.ofSeconds(5), "the direct write read from the cache", () -> {
            double before = hits();
            Response r = reader.keep(reader.on(router).header("Tandem-Consistency", "eventual").get("/v1/kv/shared"));
            return "direct".equals(r.asString()) && hits() > before;
        });
        // Acknowledged by every replica, so no follower's cache may answer the old value any more.
        for (int read = 0; read < 20; read++) {
            Response r = reader.keep(reader.on(router).header("Tandem-Consistency", "eventual").get("/v1/kv/shared"));
            assertEquals("direct", r.asString(), "read " + read + " served by " + r.getHeader("Tandem-Served-By"));
        }
    }

    @Test
    void aPausedFollowersCacheNeverHidesASessionsOwnWrite() {
        Client c = new Client();
        assertEquals(201, c.put(router, "paused", "before").statusCode());
        TandemCluster.awaitCondition(Duration.ofSeconds(20), "the key cached", () -> {
            double before = hits();
            assertEquals("before", c.get(router, "paused").asString());
            return hits() > before;
        });
        String home = c.get(router, "paused").getHeader("Tandem-Served-By");
        ServiceProcess follower = cluster.replica(home);
        follower.pause();
        try {
            // The paused follower's cache still holds "before" and its stream is silent, not ended.
            for (int i = 0; i < 5; i++) {
                assertEquals(200, c.put(router, "paused", "after-" + i).statusCode());
                Response r = c.get(router, "paused");
                assertEquals("after-" + i, r.asString(), "served by " + r.getHeader("Tandem-Served-By"));
            }
        } finally {
            follower.resume();
        }
        TandemCluster.awaitCondition(Duration.ofSeconds(20), home + " streaming again", () -> cluster.info(home).getStreaming());
    }

    /** {@code tandem_router_read_cache_lookups_total{result="hit"}} from the router's Prometheus output. */
    private static double hits() {
        for (String line : new Client().on(router).get("/q/metrics").asString().split("\n")) {
            if (line.startsWith("tandem_router_read_cache_lookups_total") && line.contains("result=\"hit\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }
}
