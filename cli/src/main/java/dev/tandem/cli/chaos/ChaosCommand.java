package dev.tandem.cli.chaos;

import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Netns;
import dev.tandem.cli.local.Repo;
import dev.tandem.common.WriteConcerns;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = "Kill, pause and (where possible) partition replicas under a workload, then check the history; exit 1 on any violation.")
public final class ChaosCommand implements Callable<Integer> {

    @Option(names = "--duration", defaultValue = "60s", description = "how long faults are spread over, e.g. 60s, 5m (default: ${DEFAULT-VALUE}); the run lasts longer if the faults need it")
    String duration;
    @Option(names = "--kills", defaultValue = "3", description = "leader kills; after each, one other fault in turn: kill a follower, pause a follower, pause the leader (default: ${DEFAULT-VALUE})")
    int kills;
    @Option(names = "--partitions", defaultValue = "2", description = "network partitions, alternately of the leader and of a follower; need root and iproute2 (replicas run in network namespaces), skipped with a message otherwise (default: ${DEFAULT-VALUE})")
    int partitions;
    @Option(names = "--partition-ms", defaultValue = "3000", description = "how long a partitioned replica stays cut off, ms (default: ${DEFAULT-VALUE})")
    long partitionMs;
    @Option(names = "--clients", defaultValue = "4", description = "concurrent clients, one session each (default: ${DEFAULT-VALUE})")
    int clients;
    @Option(names = "--write-concern", defaultValue = "one", description = "leader|one|majority|all (default: ${DEFAULT-VALUE})")
    String writeConcern;
    @Option(names = "--out", description = "where history.jsonl, report.txt, timeline.html and summary.json go (default: .tandem/chaos/<time>)")
    Path out;
    @Option(names = "--dir", description = "local cluster directory (default: .tandem); a cluster is started there if none runs")
    Path dir;
    @Option(names = "--pause-ms", defaultValue = "2000", description = "how long a paused replica stays stopped, ms (default: ${DEFAULT-VALUE})")
    long pauseMs;
    @Option(names = "--settle-ms", defaultValue = "1000", description = "quiet time after recovery before the next fault, ms (default: ${DEFAULT-VALUE})")
    long settleMs;
    @Option(names = "--seed", description = "random seed for the workload and fault targets (default: time)")
    Long seed;
    @Option(names = "--keep-cluster", description = "leave a cluster this command started running afterwards (no partitions then: their namespaces end with the run)")
    boolean keepCluster;
    /** Internal: set on the copy of this command re-executed inside the hub namespace {@code <prefix>-hub}. */
    @Option(names = "--netns-prefix", hidden = true)
    String netnsPrefix;

    /** Replicas of a cluster chaos starts. */
    static final int REPLICAS = 3;

    @Override
    public Integer call() throws Exception {
        WriteConcerns.parse(writeConcern);
        if (partitions < 0 || partitionMs < 0 || kills < 0) {
            throw new IllegalArgumentException("--kills, --partitions and --partition-ms cannot be negative");
        }
        Path clusterDir = dir != null ? dir.toAbsolutePath().normalize() : Repo.defaultClusterDir();
        Path outDir = (out != null ? out : clusterDir.resolve("chaos").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))))
                .toAbsolutePath().normalize();
        long runSeed = seed != null ? seed : System.currentTimeMillis();
        if (netnsPrefix != null) {
            return runInNamespaces(clusterDir, outDir, runSeed);
        }
        Optional<LocalCluster> running = LocalCluster.find(clusterDir);
        String skipPartitions = null;
        if (partitions > 0) {
            skipPartitions = running.isPresent()
                    ? "a cluster already runs in " + clusterDir + " with its replicas on loopback; chaos puts replicas in network namespaces only in a cluster it starts (stop it, or pass another --dir)"
                    : keepCluster ? "--keep-cluster: the network namespaces partitions need are removed at the end of the run"
                    : Netns.unavailableReason().orElse(null);
            if (skipPartitions == null) {
                Netns.Layout layout = Netns.Layout.forOwner(ProcessHandle.current().pid(), replicaIds());
                NamespaceRun nr = new NamespaceRun(layout, clusterDir, System.out);
                try {
                    nr.setUp();
                } catch (IllegalStateException e) {
                    nr.tearDown();
                    skipPartitions = "could not create network namespaces: " + e.getMessage();
                }
                if (skipPartitions == null) {
                    return nr.run(childArgs(clusterDir, outDir, runSeed, layout.prefix()));
                }
            }
        }
        boolean started = running.isEmpty();
        LocalCluster cluster = running.orElseGet(() -> LocalCluster.up(clusterDir, REPLICAS, writeConcern, 1000, System.out));
        try {
            Partitioner p = Partitioner.unavailable(skipPartitions != null ? skipPartitions : "local replicas share the loopback interface");
            ChaosRun.Result r = new ChaosRun(cluster, config(outDir, runSeed), System.out, p).run();
            return r.passed() ? 0 : 1;
        } finally {
            cluster.close();
            if (started && !keepCluster) {
                LocalCluster.down(clusterDir, false, System.out);
            }
        }
    }

    private ChaosRun.Config config(Path outDir, long runSeed) {
        return new ChaosRun.Config(parseDuration(duration), kills, clients, writeConcern, outDir, pauseMs, settleMs, runSeed,
                partitions, partitionMs);
    }

    /** Inside the hub namespace (re-executed by {@link NamespaceRun}): a cluster with every replica in its namespace. */
    private int runInNamespaces(Path clusterDir, Path outDir, long runSeed) throws InterruptedException {
        Netns.Layout layout = new Netns.Layout(netnsPrefix, replicaIds());
        if (!Netns.exists(layout.hub())) {
            throw new IllegalStateException("--netns-prefix is internal: no namespace " + layout.hub());
        }
        if (LocalCluster.find(clusterDir).isPresent()) {
            throw new IllegalStateException("a local cluster is already running in " + clusterDir);
        }
        LocalCluster cluster = LocalCluster.up(clusterDir, REPLICAS, writeConcern, 1000, System.out, layout);
        try {
            ChaosRun.Result r = new ChaosRun(cluster, config(outDir, runSeed), System.out, Partitioner.namespaces(layout)).run();
            return r.passed() ? 0 : 1;
        } finally {
            cluster.close();
            LocalCluster.down(clusterDir, false, System.out);
        }
    }

    static List<String> replicaIds() {
        List<String> ids = new ArrayList<>();
        for (int i = 1; i <= REPLICAS; i++) {
            ids.add("r" + i);
        }
        return ids;
    }

    /** This command's options, resolved (absolute paths, the chosen seed), for the copy run in the hub namespace. */
    List<String> childArgs(Path clusterDir, Path outDir, long runSeed, String prefix) {
        return List.of("chaos", "--duration", duration, "--kills", Integer.toString(kills), "--clients", Integer.toString(clients),
                "--write-concern", writeConcern, "--out", outDir.toString(), "--dir", clusterDir.toString(),
                "--pause-ms", Long.toString(pauseMs), "--settle-ms", Long.toString(settleMs), "--seed", Long.toString(runSeed),
                "--partitions", Integer.toString(partitions), "--partition-ms", Long.toString(partitionMs),
                "--netns-prefix", prefix);
    }

    /** {@code 90s}, {@code 5m}, {@code 1h}, {@code 1500ms} or an ISO-8601 duration. */
    public static Duration parseDuration(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            if (t.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            }
            if (t.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            }
            if (t.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            }
            return Duration.parse(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("duration must look like 90s, 5m, 1h or 1500ms, got '" + text + "'");
        }
    }
}
