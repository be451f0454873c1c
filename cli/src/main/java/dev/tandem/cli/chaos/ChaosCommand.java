package dev.tandem.cli.chaos;

import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Repo;
import dev.tandem.common.WriteConcerns;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = "Kill, pause and (where possible) partition replicas under a workload, then check the history; exit 1 on any violation.")
public final class ChaosCommand implements Callable<Integer> {

    @Option(names = "--duration", defaultValue = "60s", description = "how long faults are spread over, e.g. 60s, 5m (default: ${DEFAULT-VALUE}); the run lasts longer if the faults need it")
    String duration;
    @Option(names = "--kills", defaultValue = "3", description = "leader kills; after each, one other fault in turn: kill a follower, pause a follower, pause the leader, partition (default: ${DEFAULT-VALUE})")
    int kills;
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
    @Option(names = "--keep-cluster", description = "leave a cluster this command started running afterwards")
    boolean keepCluster;

    @Override
    public Integer call() throws Exception {
        WriteConcerns.parse(writeConcern);
        Path clusterDir = dir != null ? dir.toAbsolutePath().normalize() : Repo.defaultClusterDir();
        Path outDir = out != null ? out : clusterDir.resolve("chaos").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Optional<LocalCluster> running = LocalCluster.find(clusterDir);
        boolean started = running.isEmpty();
        LocalCluster cluster = running.orElseGet(() -> LocalCluster.up(clusterDir, 3, writeConcern, 1000, System.out));
        try {
            ChaosRun.Result r = new ChaosRun(cluster, new ChaosRun.Config(parseDuration(duration), kills, clients, writeConcern, outDir,
                    pauseMs, settleMs, seed != null ? seed : System.currentTimeMillis()), System.out).run();
            return r.passed() ? 0 : 1;
        } finally {
            cluster.close();
            if (started && !keepCluster) {
                LocalCluster.down(clusterDir, false, System.out);
            }
        }
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
