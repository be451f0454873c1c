package dev.tandem.cli.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The short chaos run of the test suite: a real local cluster (three replica processes, a
 * controller and a router on loopback, under the supervisor), four clients, three leader kills
 * plus a follower kill and a pause; the checker must find nothing and every kill must end in a
 * new leader taking writes. Needs the service fast-jars (./mvnw -DskipTests package).
 * Artifacts (history.jsonl, report.txt, timeline.html) stay in target/chaos-it/out.
 */
class ChaosIT {

    /**
     * Kill -> first acknowledged write in the new epoch, worst of the run, in ms. Under a load
     * average of 20 on 2 cores a failover has taken 8.7 s (probes time out, a failover aborts
     * and is retried); the stall this guards against took 15 s.
     */
    static final long MAX_FAILOVER_MS = 12_000;

    @Test
    void threeLeaderKillsLoseNoAcknowledgedWriteAndKeepEverySessionConsistent() throws Exception {
        for (String module : List.of("replica-service", "router-service", "failover-controller")) {
            assertTrue(Files.isRegularFile(Repo.serviceJar(module)), Repo.serviceJar(module) + " missing: run ./mvnw -DskipTests package first");
        }
        Path base = Repo.root().resolve("cli/target/chaos-it");
        deleteTree(base);
        Path clusterDir = base.resolve("cluster");
        LocalCluster cluster = LocalCluster.up(clusterDir, 3, "one", 1000, System.out);
        try {
            ChaosRun.Result r = new ChaosRun(cluster, new ChaosRun.Config(Duration.ofSeconds(20), 3, 4, "one", base.resolve("out"),
                    1500, 1000, 42), System.out).run();
            assertEquals(List.of(), r.errors(), "run errors; see " + r.outDir());
            assertEquals(List.of(), r.violations(), "violations; see " + r.outDir());
            assertEquals(3, r.summary().failoverMs().size(), "every leader kill must end with a write in a newer epoch");
            // Not the 1 s target (FailoverMeasurementIT holds that): a bound that only a stall
            // fails, such as a router or follower waiting out gRPC's reconnect back-off.
            assertTrue(r.summary().failoverMaxMs() <= MAX_FAILOVER_MS, "a failover took " + r.summary().failoverMaxMs()
                    + " ms; see " + r.outDir());
            assertTrue(r.summary().writesOk() > 100, "the workload barely ran: " + r.summary());
            assertTrue(r.summary().readsOk() > 100, "the workload barely read: " + r.summary());
        } finally {
            cluster.close();
            LocalCluster.down(clusterDir, false, System.out);
        }
    }

    private static void deleteTree(Path p) throws Exception {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            walk.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }
}
