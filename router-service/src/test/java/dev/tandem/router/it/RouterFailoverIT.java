package dev.tandem.router.it;

import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import dev.tandem.process.ServiceProcess;
import io.restassured.response.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Failures under the router, with real processes: the pinned follower dies (SIGKILL), then the
 * leader dies after acknowledging a write no follower has, and an operator promotes a follower
 * that lacks it. The tests run in order because each leaves the cluster degraded.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RouterFailoverIT {

    private TandemCluster cluster;
    private ServiceProcess router;
    private String deadFollower;
    private String survivor;

    @BeforeAll
    void start() {
        // A long lease so the leader keeps acknowledging `leader` writes while its followers are paused.
        cluster = new TandemCluster("router-failover", 3, Map.of("tandem.replica.lease-ms", "5000"));
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

    @Test
    @Order(1)
    void monotonicReadsHoldWhenThePinnedFollowerDies() throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            Client w = new Client();
            int n = 0;
            try {
                while (writing.get()) {
                    Response r = w.put(router, "mono/counter", Integer.toString(++n));
                    if (r.statusCode() != 200 && r.statusCode() != 201) {
                        throw new AssertionError("write " + n + ": " + r.statusCode() + " " + r.asString());
                    }
                }
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        }, "it-writer");
        writer.start();
        try {
            Client reader = new Client();
            reader.put(router, "mono/start", "x");
            List<String> before = new ArrayList<>();
            int last = readMonotonic(reader, 0, 30, before);
            Map<String, Long> beforeCounts = before.stream().collect(Collectors.groupingBy(id -> id, Collectors.counting()));
            String pinned = beforeCounts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            assertNotEquals("r1", pinned, "with followers healthy the session is pinned to a follower: " + beforeCounts);
            cluster.replica(pinned).kill();
            deadFollower = pinned;
            List<String> after = new ArrayList<>();
            readMonotonic(reader, last, 60, after);
            // The router's read cache of the dead follower may answer the reads that reach the router
            // before the end of that follower's change stream does (its data is exact as of the
            // position it claims, which readMonotonic checks); once any other replica has answered,
            // the router has moved the session and the dead follower serves nothing more.
            int moved = 0;
            while (moved < after.size() && after.get(moved).equals(pinned)) {
                moved++;
            }
            assertTrue(moved < after.size(), "the session never moved off the dead follower: " + after);
            assertFalse(after.subList(moved, after.size()).contains(pinned), "reads came from the dead follower after the session moved: " + after);
            assertTrue(moved <= 5, "the dead follower answered " + moved + " reads after its kill: " + after);
        } finally {
            writing.set(false);
            writer.join(10_000);
        }
        if (writerFailure.get() != null) {
            throw new AssertionError("writer failed while a follower died", writerFailure.get());
        }
    }

    /** Reads the counter {@code n} times; the value and the served position must never go back. */
    private int readMonotonic(Client reader, int floor, int n, List<String> servedBy) {
        int last = floor;
        LogPosition lastPos = LogPosition.ZERO;
        for (int i = 0; i < n; i++) {
            Response r = reader.get(router, "mono/counter");
            if (r.statusCode() == 404) {
                continue; // the writer's first write is not there yet
            }
            assertEquals(200, r.statusCode(), r.asString());
            int v = Integer.parseInt(r.asString());
            LogPosition pos = LogPosition.parse(r.getHeader("Tandem-Position"));
            assertTrue(v >= last, "read " + v + " after " + last + " (served by " + r.getHeader("Tandem-Served-By") + ")");
            assertTrue(pos.compareTo(lastPos) >= 0, "served position went back from " + lastPos + " to " + pos);
            last = v;
            lastPos = pos;
            servedBy.add(r.getHeader("Tandem-Served-By"));
        }
        return last;
    }

    @Test
    @Order(2)
    void aLeaderlessClusterAnswers503WithRetryAfterAndALostSessionWriteIs410() {
        survivor = List.of("r2", "r3").stream().filter(id -> !id.equals(deadFollower)).findFirst().orElseThrow();
        Client session = new Client();
        Response base = session.put(router, "lost/base", "kept");
        assertTrue(base.statusCode() == 200 || base.statusCode() == 201, base.asString());
        TandemCluster.awaitCondition(Duration.ofSeconds(20), survivor + " applied the base write", () ->
                cluster.info(survivor).getAppliedLsn() >= session.position().lsn());

        // Both followers are now down (a SIGSTOPped one would still buffer shipped entries in its
        // socket), so the leader, within its long lease, acknowledges a `leader` write only it holds.
        cluster.replica(survivor).kill();
        Response lost = session.keep(session.on(router).header("Tandem-Write-Concern", "leader").body("only-on-r1").put("/v1/kv/lost/k"));
        assertEquals(201, lost.statusCode(), lost.asString());
        LogPosition lostAt = LogPosition.parse(lost.getHeader("Tandem-Position"));
        cluster.replica("r1").kill();
        cluster.replica(survivor).start().awaitHttpOk("/q/health/live", Duration.ofSeconds(60));
        cluster.replica(deadFollower).start().awaitHttpOk("/q/health/live", Duration.ofSeconds(60));

        TandemCluster.awaitCondition(Duration.ofSeconds(10), "router notices it has no leader", () ->
                new Client().on(router).get("/v1/cluster").jsonPath().getString("leader") == null);
        Client other = new Client();
        Response noLeader = other.keep(other.on(router).body("x").put("/v1/kv/lost/during"));
        assertEquals(503, noLeader.statusCode(), noLeader.asString());
        noLeader.then().contentType("application/problem+json").header("Retry-After", "1").body("code", equalTo("NO_LEADER"));

        // An operator promotes the survivor, which never received lostAt: that write is gone. The
        // other follower follows it, so the new leader's lease holds.
        cluster.promote(survivor, 2);
        cluster.follow(deadFollower, survivor, 2);
        TandemCluster.awaitCondition(Duration.ofSeconds(10), "router follows the new leader", () ->
                survivor.equals(new Client().on(router).get("/v1/cluster").jsonPath().getString("leader")));

        Response read = session.get(router, "lost/base");
        assertEquals(410, read.statusCode(), "the session wrote " + lostAt + ", which the new leader does not have: " + read.asString());
        read.then().contentType("application/problem+json").body("code", equalTo("SESSION_WRITE_LOST"))
                .body("position", equalTo(lostAt.toString()));

        // A new session reads the surviving history; the write that was lost is not there.
        Client fresh = new Client();
        assertEquals("kept", fresh.get(router, "lost/base").asString());
        assertEquals(404, fresh.get(router, "lost/k").statusCode());
        Response write = fresh.put(router, "lost/after", "epoch2");
        assertEquals(201, write.statusCode(), write.asString());
        assertEquals(2, fresh.position().epoch());
    }


    @Test
    @Order(3)
    void aWriteToADeposedLeaderFollowsItsNotLeaderHintOnce() {
        // A router that polls once a minute keeps believing in the leader it saw at start. Its
        // first poll also opens the channels and loads gRPC in a fresh JVM: with the default 500 ms
        // Info deadline a loaded machine can fail it, and the next poll is a minute away.
        ServiceProcess slow = cluster.startRouter("slow-router", Map.of("tandem.router.topology-refresh-ms", "60000",
                "tandem.router.read-timeout-ms", "5000"));
        TandemCluster.awaitCondition(Duration.ofSeconds(20), "slow router sees leader " + survivor, () ->
                survivor.equals(new Client().on(slow).get("/v1/cluster").jsonPath().getString("leader")));

        // Switchover behind its back: the other replica leads epoch 3, the old leader follows it.
        String next = deadFollower;
        cluster.promote(next, 3);
        cluster.follow(survivor, next, 3);
        TandemCluster.awaitCondition(Duration.ofSeconds(20), next + " accepts writes in epoch 3", () ->
                cluster.info(next).getAcceptingWrites() && cluster.info(next).getEpoch() == 3);

        Client c = new Client();
        Response w = c.put(slow, "hint/k", "v");
        assertEquals(201, w.statusCode(), w.asString());
        assertEquals(next, w.getHeader("Tandem-Served-By"), "the write reached the leader the NOT_LEADER answer named");
        assertEquals(3, c.position().epoch());
        assertEquals(survivor, new Client().on(slow).get("/v1/cluster").jsonPath().getString("leader"),
                "the router's polled view is still stale, so the write was routed by the hint, not by a new poll");
        assertEquals("v", c.get(slow, "hint/k").asString());
    }
}
