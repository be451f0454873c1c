package dev.tandem.controller.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The controller with real replica processes on loopback: SIGKILL the leader under write load
 * (concern {@code one}); a new leader accepts writes within one second; every acknowledged write
 * is still readable; the old leader, restarted on its disk, rejoins as a follower.
 */
class FailoverIT {

    /**
     * DESIGN.md: kill -> new leader accepting writes in about a second. One kill on a shared
     * 2-core CI machine (JIT still cold, Maven forks beside it) is one sample of a noisy
     * distribution, so the suite allows 2 s by default; the p50/p99 targets (0.5 s / 1 s) are
     * checked over 20+ kills by FailoverMeasurementIT. {@code -Dtandem.failover.max-ms=1000}
     * makes this test hold the 1 s line on a quiet machine.
     */
    static final long MAX_FAILOVER_MS = Long.getLong("tandem.failover.max-ms", 2_000);

    @Test
    void killedLeaderIsReplacedQuicklyAndNoAcknowledgedWriteIsLost() throws Exception {
        try (LocalCluster c = new LocalCluster("failover", 3).start()) {
            String leader = c.awaitLeader(Duration.ofSeconds(30));
            List<LocalCluster.Ack> acks;
            long killedAt;
            String next;
            try (LocalCluster.Writer w = c.new Writer("load")) {
                // Let the writer get going, then kill the leader mid-stream.
                long until = System.currentTimeMillis() + 10_000;
                while (w.acked.size() < 200 && System.currentTimeMillis() < until) {
                    Thread.sleep(10);
                }
                assertTrue(w.acked.size() >= 200, "writes before the kill: " + w.acked.size() + "\n" + c.logTails());
                killedAt = System.nanoTime();
                c.replicas.get(leader).kill();
                Optional<LocalCluster.Ack> first = Optional.empty();
                long waitUntil = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (first.isEmpty() && System.nanoTime() < waitUntil) {
                    Thread.sleep(5);
                    first = w.firstAckAfter(killedAt, leader);
                }
                assertTrue(first.isPresent(), "no write acknowledged by a new leader within 10 s\n" + c.logTails());
                long ms = (first.get().atNanos() - killedAt) / 1_000_000;
                System.out.printf("kill -> first acknowledged write: %d ms (new leader %s)%n", ms, first.get().servedBy());
                assertTrue(ms <= MAX_FAILOVER_MS, "failover took " + ms + " ms\n" + c.logTails());
                next = first.get().servedBy();
                Thread.sleep(300); // some writes in the new epoch too
                w.close();
                acks = new ArrayList<>(w.acked);
            }
            assertNotEquals(leader, next);
            List<String> missing = c.missing(next, acks);
            assertEquals(List.of(), missing, missing.size() + " of " + acks.size() + " acknowledged writes lost");

            // The old leader comes back on its own disk and must end up following the new one.
            c.replicas.get(leader).start().awaitHttpOk("/q/health/live", Duration.ofSeconds(60));
            long deadline = System.currentTimeMillis() + 15_000;
            ReplicaInfo info = null;
            while (System.currentTimeMillis() < deadline) {
                try {
                    info = c.status(leader).getInfo();
                    if (info.getRole() == Role.ROLE_FOLLOWER && info.getLeaderId().equals(next) && info.getStreaming()) {
                        break;
                    }
                } catch (RuntimeException e) {
                    // still starting
                }
                Thread.sleep(50);
            }
            assertTrue(info != null && info.getRole() == Role.ROLE_FOLLOWER && info.getLeaderId().equals(next),
                    "old leader did not rejoin as follower of " + next + ": " + info + "\n" + c.logTails());
            assertEquals(List.of(), c.missing(leader, acks.subList(Math.max(0, acks.size() - 50), acks.size())),
                    "the rejoined follower has the latest acknowledged writes");
        }
    }
}
