package dev.tandem.router.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.LogPosition;
import dev.tandem.process.ServiceProcess;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import io.restassured.response.Response;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A write in flight to a leader that stops answering (SIGSTOP: it keeps its sockets and reads
 * nothing, like a leader cut off by a partition) is handed over to the new leader as soon as the
 * router sees one in a higher epoch, instead of waiting out {@code write-timeout-ms}. No
 * controller runs: the test promotes a follower with the admin RPC, as an operator would.
 *
 * <p>Two cases, in order on one cluster: the write never reached the old leader's log (the new
 * leader applies it anew, in its epoch), and the write was in the old leader's log and shipped to
 * the follower that gets promoted (the new leader answers {@code replayed} with the original
 * position). Each case ends with the old leader resumed and rejoined, and checks on every replica
 * that the key's version is the acknowledged position: the write landed exactly once.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RouterWriteHandoverIT {

    /** The router's default {@code tandem.router.write-timeout-ms}: what a stuck write used to cost. */
    private static final long WRITE_TIMEOUT_MS = 10_000;

    private TandemCluster cluster;
    private ServiceProcess router;

    @BeforeAll
    void start() {
        // A long lease so a leader keeps admitting a write while its followers are paused (case 2).
        cluster = new TandemCluster("router-handover", 3, Map.of("tandem.replica.lease-ms", "5000"));
        cluster.starting(() -> {
            cluster.formWithLeader("r1");
            // A 2 s Info deadline keeps a paused leader in the router's view for 2 s, so the write
            // the test sends right after the pause is routed to it (with the default 500 ms, a
            // loaded machine could see it marked down first and answer NO_LEADER).
            router = cluster.startRouter("router", Map.of("tandem.router.read-timeout-ms", "2000",
                    "tandem.router.write-timeout-ms", Long.toString(WRITE_TIMEOUT_MS)));
            TandemCluster.awaitRouterLeader(router, "r1");
        });
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close(); // resumes any paused replica, then stops every process
        }
    }

    @Test
    @Order(1)
    void aWriteStuckOnAPausedLeaderIsAppliedByTheNewLeaderInItsEpoch() throws Exception {
        Client c = new Client();
        Response base = c.put(router, "handover/base", "x");
        assertTrue(base.statusCode() == 201 || base.statusCode() == 200, base.asString());
        awaitApplied(List.of("r1", "r2", "r3"), c.position().lsn());
        double handoversBefore = handovers();

        // The leader stops reading; the router still routes to it (its Info poll has not timed out).
        cluster.replica("r1").pause();
        long pausedAt = System.nanoTime();
        CompletableFuture<Response> write = CompletableFuture.supplyAsync(() -> c.keep(c.on(router)
                .header("Idempotency-Key", "handover-a").contentType("text/plain").body("a").put("/v1/kv/handover/a")));
        Thread.sleep(300);
        assertFalse(write.isDone(), () -> "the write should be stuck on the paused leader, but it was answered: " + write.join().asString());

        cluster.promote("r2", 2);
        cluster.follow("r3", "r2", 2);
        long promotedAt = System.nanoTime();
        Response w = write.get(WRITE_TIMEOUT_MS + 10_000, TimeUnit.MILLISECONDS);
        long sincePause = millisSince(pausedAt);
        long sincePromote = millisSince(promotedAt);
        System.out.printf("[handover, not in the old leader's log] answer %d %s %d ms after the leader was paused, "
                        + "%d ms after the promotion (write-timeout-ms %d)%n",
                w.statusCode(), w.getHeader("Tandem-Position"), sincePause, sincePromote, WRITE_TIMEOUT_MS);

        assertEquals(201, w.statusCode(), w.asString());
        assertTrue(sincePause < WRITE_TIMEOUT_MS / 2, "took " + sincePause + " ms, write-timeout-ms is " + WRITE_TIMEOUT_MS);
        LogPosition pos = LogPosition.parse(w.getHeader("Tandem-Position"));
        assertEquals(2, pos.epoch(), "the old leader never read the write, so only the new leader (epoch 2) can hold it: " + pos);
        assertEquals("r2", w.getHeader("Tandem-Served-By"));
        assertEquals("false", w.getHeader("Tandem-Replayed"));
        assertEquals(handoversBefore + 1, handovers(), 0.0, "one hand-over counted");

        // Landed once: a retry with the same key is a replay of that position, and the key is at it.
        Response again = c.keep(c.on(router).header("Idempotency-Key", "handover-a").contentType("text/plain").body("a").put("/v1/kv/handover/a"));
        assertEquals(201, again.statusCode(), "a replay answers as the original write did: " + again.asString());
        assertEquals("true", again.getHeader("Tandem-Replayed"));
        assertEquals(pos.toString(), again.getHeader("Tandem-Position"));
        Response read = c.get(router, "handover/a");
        assertEquals("a", read.asString());
        assertEquals("\"" + pos + "\"", read.getHeader("ETag"));

        // The old leader wakes up (it may now read the request, and its cancellation, from its
        // socket), is made to follow r2, and ends up with the same single copy as everyone else.
        cluster.replica("r1").resume();
        cluster.follow("r1", "r2", 2);
        awaitFollowing("r1", 2);
        assertEverywhere("handover/a", "a", pos);
    }

    @Test
    @Order(2)
    void aWriteShippedBeforeTheLeaderPausedIsAnsweredByTheNewLeaderAsAReplayOfItsOriginalPosition() throws Exception {
        Client c = new Client();
        Response base = c.put(router, "handover/base2", "x");
        assertTrue(base.statusCode() == 201 || base.statusCode() == 200, base.asString());
        awaitApplied(List.of("r1", "r2", "r3"), c.position().lsn());
        long lastBefore = cluster.info("r2").getLast().getLsn();
        double handoversBefore = handovers();

        // The followers stop reading: r2 (leader of epoch 2, long lease) appends the write and
        // ships it into their sockets, then waits for an acknowledgement that does not come.
        cluster.replica("r1").pause();
        cluster.replica("r3").pause();
        long startedAt = System.nanoTime();
        CompletableFuture<Response> write = CompletableFuture.supplyAsync(() -> c.keep(c.on(router)
                .header("Idempotency-Key", "handover-b").contentType("text/plain").body("b").put("/v1/kv/handover/b")));
        TandemCluster.awaitCondition(Duration.ofSeconds(5), "r2 appended the write", () -> cluster.info("r2").getLast().getLsn() > lastBefore);
        long lsn = cluster.info("r2").getLast().getLsn();
        cluster.replica("r2").pause();
        cluster.replica("r1").resume();
        cluster.replica("r3").resume();
        // The followers read what r2 shipped before it stopped.
        TandemCluster.awaitCondition(Duration.ofSeconds(5), "r3 received lsn " + lsn, () -> cluster.info("r3").getLast().getLsn() >= lsn);
        TandemCluster.awaitCondition(Duration.ofSeconds(5), "r1 received lsn " + lsn, () -> cluster.info("r1").getLast().getLsn() >= lsn);
        assertFalse(write.isDone(), () -> "the write should be stuck on the paused leader, but it was answered: " + write.join().asString());

        cluster.promote("r3", 3);
        cluster.follow("r1", "r3", 3);
        long promotedAt = System.nanoTime();
        Response w = write.get(WRITE_TIMEOUT_MS + 10_000, TimeUnit.MILLISECONDS);
        long sinceStart = millisSince(startedAt);
        long sincePromote = millisSince(promotedAt);
        System.out.printf("[handover, shipped before the pause] answer %d %s replayed=%s %d ms after the write was sent, "
                        + "%d ms after the promotion (write-timeout-ms %d)%n",
                w.statusCode(), w.getHeader("Tandem-Position"), w.getHeader("Tandem-Replayed"), sinceStart, sincePromote, WRITE_TIMEOUT_MS);

        // The new leader replays the original results r2 logged with the entry: the key was created.
        assertEquals(201, w.statusCode(), w.asString());
        assertTrue(sinceStart < WRITE_TIMEOUT_MS / 2, "took " + sinceStart + " ms, write-timeout-ms is " + WRITE_TIMEOUT_MS);
        LogPosition pos = LogPosition.parse(w.getHeader("Tandem-Position"));
        assertEquals(new LogPosition(2, lsn), pos, "the new leader holds the entry r2 shipped: it answers with its original position");
        assertEquals("true", w.getHeader("Tandem-Replayed"));
        assertEquals("r3", w.getHeader("Tandem-Served-By"));
        assertEquals(handoversBefore + 1, handovers(), 0.0, "one hand-over counted");

        Response read = c.get(router, "handover/b");
        assertEquals("b", read.asString());
        assertEquals("\"" + pos + "\"", read.getHeader("ETag"));

        cluster.replica("r2").resume();
        cluster.follow("r2", "r3", 3);
        awaitFollowing("r2", 3);
        assertEverywhere("handover/b", "b", pos);
        assertEverywhere("handover/a", "a", LogPosition.parse(c.get(router, "handover/a").getHeader("ETag").replace("\"", "")));
    }

    /** Every replica has applied up to the key's version and holds the key at exactly {@code version}. */
    private void assertEverywhere(String key, String value, LogPosition version) {
        awaitApplied(List.of("r1", "r2", "r3"), version.lsn());
        for (String id : List.of("r1", "r2", "r3")) {
            GetResponse g = cluster.get(id, key);
            assertEquals(ErrorCode.OK, g.getError().getCode(), id + ": " + g.getError());
            assertTrue(g.getFound(), id + " lacks " + key);
            assertEquals(value, g.getValue().toStringUtf8(), id);
            assertEquals(version, LogPosition.of(g.getVersion()), id + " holds " + key + " at another version: written twice?");
        }
    }

    private void awaitApplied(List<String> ids, long lsn) {
        TandemCluster.awaitCondition(Duration.ofSeconds(20), ids + " applied lsn " + lsn, () -> {
            for (String id : ids) {
                if (cluster.info(id).getAppliedLsn() < lsn) {
                    return false;
                }
            }
            return true;
        });
    }

    private void awaitFollowing(String id, long epoch) {
        TandemCluster.awaitCondition(Duration.ofSeconds(20), id + " streams from the leader of epoch " + epoch, () -> {
            ReplicaInfo i = cluster.info(id);
            return i.getRole() == Role.ROLE_FOLLOWER && i.getStreaming() && i.getEpoch() == epoch;
        });
    }

    /** {@code tandem_router_write_handovers_total} from the router's Prometheus output (0 when absent). */
    private double handovers() {
        String metrics = new Client().on(router).get("/q/metrics").asString();
        for (String line : metrics.split("\n")) {
            if (line.startsWith("tandem_router_write_handovers_total")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    private static long millisSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }
}
