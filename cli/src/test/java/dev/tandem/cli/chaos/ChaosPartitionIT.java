package dev.tandem.cli.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Netns;
import dev.tandem.cli.local.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Network partitions end to end: runs {@code tandem chaos} as its own process (as bin/tandem
 * does) with one partition of the leader and one of a follower and no other fault. The command
 * creates its namespaces, re-runs itself in the hub, and removes them at the end; the checker
 * must find nothing, the leader partition must end with a write in a newer epoch, the cluster must
 * recover from both (the run fails otherwise), and no namespace or cluster process may be left.
 * Skipped where network namespaces cannot be created (not root, no iproute2, no capability).
 * Artifacts stay in target/chaos-partition-it (chaos.log, out/, cluster/logs/).
 */
class ChaosPartitionIT {

    /** The configured run is ~25 s plus the cluster's start; a loaded machine needs much longer. */
    static final long RUN_TIMEOUT_S = 420;

    @Test
    void partitionsOfTheLeaderAndOfAFollowerLoseNothingAndTheClusterRecovers() throws Exception {
        Optional<String> unavailable = Netns.probe();
        assumeTrue(unavailable.isEmpty(), () -> "partition chaos needs network namespaces: " + unavailable.get());
        for (String module : List.of("replica-service", "router-service", "failover-controller")) {
            assertTrue(Files.isRegularFile(Repo.serviceJar(module)), Repo.serviceJar(module) + " missing: run ./mvnw -DskipTests package first");
        }
        Path base = Repo.root().resolve("cli/target/chaos-partition-it");
        deleteTree(base);
        Files.createDirectories(base);
        Path clusterDir = base.resolve("cluster");
        Path outDir = base.resolve("out");
        Path log = base.resolve("chaos.log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dtandem.repo.root=" + Repo.root(),
                "-cp", Repo.cliClasspath(), "dev.tandem.cli.TandemCli", "chaos",
                "--dir", clusterDir.toString(), "--out", outDir.toString(), "--kills", "0", "--partitions", "2",
                "--partition-ms", "3000", "--duration", "10s", "--clients", "4", "--settle-ms", "1000", "--seed", "42"));
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String prefix = Netns.NAME_PREFIX + p.pid() + "-";
        boolean exited = p.waitFor(RUN_TIMEOUT_S, TimeUnit.SECONDS);
        if (!exited) {
            // SIGTERM: the command's shutdown hook stops the cluster and deletes the namespaces.
            p.destroy();
            p.waitFor(90, TimeUnit.SECONDS);
        }
        String output = Files.readString(log);
        System.out.println(output);
        System.out.printf("ChaosPartitionIT: the chaos command took %.1f s%n", (System.nanoTime() - start) / 1e9);
        try {
            assertTrue(exited, "chaos did not finish within " + RUN_TIMEOUT_S + " s; see " + log);
            assertTrue(output.contains("chaos: created network namespaces " + prefix), output);
            assertEquals(0, p.exitValue(), "chaos failed; see " + log + " and " + outDir);

            JsonNode summary = new ObjectMapper().readTree(outDir.resolve("summary.json").toFile());
            assertTrue(summary.get("passed").asBoolean(), summary.toString());
            assertEquals(0, summary.get("violations").size(), summary.toString());
            assertEquals(0, summary.get("errors").size(), "errors (a fault the cluster did not recover from?): " + summary);
            assertEquals(1, summary.get("summary").get("partitionFailoverMs").size(),
                    "the leader partition must end with a write acknowledged in a newer epoch: " + summary);
            assertEquals(0, summary.get("summary").get("leaderPartitionsWithoutRecovery").asInt(), summary.toString());
            assertTrue(summary.get("summary").get("writesOk").asLong() > 20, "the workload barely ran: " + summary);

            List<Event> faults = History.readJsonLines(outDir.resolve("history.jsonl")).stream().filter(e -> "fault".equals(e.kind())).toList();
            List<Event> cuts = faults.stream().filter(e -> "partition".equals(e.fault())).toList();
            List<Event> heals = faults.stream().filter(e -> "heal".equals(e.fault())).toList();
            assertEquals(2, cuts.size(), faults.toString());
            assertTrue(cuts.get(0).epoch() != null, "the first partition cuts the leader off: " + cuts);
            assertEquals(null, cuts.get(1).epoch(), "the second partition cuts a follower off: " + cuts);
            assertEquals(cuts.stream().map(Event::target).toList(), heals.stream().map(Event::target).toList(), "every partition healed");
            assertTrue(output.contains("result          PASS: no violations"), output);
        } finally {
            boolean clusterLeft = LocalCluster.find(clusterDir).isPresent();
            if (clusterLeft) {
                LocalCluster.down(clusterDir, false, System.out);
            }
            List<String> left = Netns.list().stream().filter(n -> n.startsWith(prefix)).toList();
            if (!left.isEmpty()) {
                Netns.delete(Netns.Layout.forOwner(p.pid(), ChaosCommand.replicaIds()));
            }
            assertEquals(List.of(), left, "namespaces left behind (now deleted)");
            assertTrue(!clusterLeft, "the cluster was left running in " + clusterDir + " (now stopped)");
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
