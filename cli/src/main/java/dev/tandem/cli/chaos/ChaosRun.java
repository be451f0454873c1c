package dev.tandem.cli.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tandem.cli.chaos.HistoryChecker.FinalValue;
import dev.tandem.cli.chaos.HistoryChecker.ReplicaFinal;
import dev.tandem.cli.chaos.HistoryChecker.Violation;
import dev.tandem.cli.client.ReplicaClient;
import dev.tandem.cli.client.RouterClient;
import dev.tandem.cli.local.ClusterDescription;
import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Pids;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.KeyValue;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.StatusResponse;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * One chaos run against a local cluster: clients write and read through the router while faults
 * are injected; then the cluster is left to settle, its final state and digests are read, and the
 * {@link HistoryChecker} judges the history. Faults are injected one at a time, each only after the
 * cluster has fully recovered from the previous one: the guarantees are stated for a single
 * failure, and two overlapping failures could lose a {@code one} write legitimately.
 */
public final class ChaosRun {

    /**
     * @param partitions  network partitions, alternately of the leader and of a follower, each
     *                    lasting {@code partitionMs}; left out when the run's {@link Partitioner}
     *                    cannot cut replicas off
     */
    public record Config(Duration duration, int leaderKills, int clients, String writeConcern, Path out, long pauseMs,
                         long settleMs, long seed, int partitions, long partitionMs) {

        /** Without partitions. */
        public Config(Duration duration, int leaderKills, int clients, String writeConcern, Path out, long pauseMs,
                      long settleMs, long seed) {
            this(duration, leaderKills, clients, writeConcern, out, pauseMs, settleMs, seed, 0, 0);
        }
    }

    public record Result(List<Violation> violations, RunSummary summary, List<String> errors, Path outDir) {
        public boolean passed() {
            return violations.isEmpty() && errors.isEmpty();
        }
    }

    /** How long the cluster gets to recover from one fault before the run gives up, in ms. */
    static final long RECOVERY_TIMEOUT_MS = 60_000;
    /** How long replicas get to reach equal digests once writes stop, in ms. */
    static final long CONVERGENCE_TIMEOUT_MS = 60_000;
    /** Keys overwritten by every client: where stale and out-of-order reads would show. */
    static final int HOT_KEYS = 8;
    /** Info sampling period for the two-leaders check, in ms. */
    static final long SAMPLE_INTERVAL_MS = 50;
    /** A follower counts as caught up within this lag, in entries. */
    static final long CAUGHT_UP_LAG_ENTRIES = 100;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final LocalCluster cluster;
    private final Config config;
    private final PrintStream out;
    private final History history = new History();
    private final AtomicBoolean stopClients = new AtomicBoolean();
    private final AtomicBoolean stopSampler = new AtomicBoolean();
    private final List<String> errors = new ArrayList<>();
    private final Partitioner partitioner;
    /** Replicas cut off right now; healed in any case before the end state is read. */
    private final Set<String> partitioned = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public ChaosRun(LocalCluster cluster, Config config, PrintStream out) {
        this(cluster, config, out, Partitioner.unavailable("local replicas share the loopback interface (no network namespaces)"));
    }

    public ChaosRun(LocalCluster cluster, Config config, PrintStream out, Partitioner partitioner) {
        this.cluster = cluster;
        this.config = config;
        this.out = out;
        this.partitioner = partitioner;
    }

    public Result run() throws InterruptedException {
        try {
            Files.createDirectories(config.out());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.printf("chaos: %d clients writing with '%s' and reading with 'session' through %s; %d leader kills, %d partitions over >= %s; seed %d%n",
                config.clients(), config.writeConcern(), cluster.routerUrl(), config.leaderKills(), partitions(), config.duration(), config.seed());
        if (config.partitions() > 0 && partitioner.unavailableReason() != null) {
            out.println("chaos: partition faults skipped: " + partitioner.unavailableReason());
        }
        awaitRecovery("start");
        List<Thread> threads = new ArrayList<>();
        for (int i = 1; i <= config.clients(); i++) {
            Thread t = new Thread(new Client("c" + i, new Random(config.seed() + i)), "chaos-client-" + i);
            t.start();
            threads.add(t);
        }
        Thread sampler = new Thread(this::sample, "chaos-sampler");
        sampler.start();
        try {
            injectFaults();
        } finally {
            stopClients.set(true);
            for (Thread t : threads) {
                t.join(10_000);
            }
            healEverything();
        }
        if (!partitioned.isEmpty()) {
            errors.add("could not heal the partition of " + partitioned);
        }
        out.println("chaos: workload stopped; waiting for the cluster to recover and converge ...");
        awaitRecovery("the end of the run");
        Map<String, ReplicaFinal> replicas = converge();
        stopSampler.set(true);
        sampler.join(5_000);
        Map<String, FinalValue> finalState = new HashMap<>();
        boolean complete = readFinalState(finalState);
        List<Event> events = history.snapshot();
        List<Violation> violations = HistoryChecker.check(new HistoryChecker.Input(events, finalState, complete, replicas));
        RunSummary summary = RunSummary.of(events);
        String report = report(summary, violations, replicas);
        History.writeJsonLines(events, config.out().resolve("history.jsonl"));
        try {
            Files.writeString(config.out().resolve("report.txt"), report);
            Files.writeString(config.out().resolve("timeline.html"), Timeline.html(events, report));
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("passed", violations.isEmpty() && errors.isEmpty());
            json.put("violations", violations.stream().map(Violation::toString).toList());
            json.put("errors", errors);
            json.put("summary", summary);
            json.put("failoverP50Ms", summary.failoverQuantileMs(0.5));
            json.put("failoverP99Ms", summary.failoverQuantileMs(0.99));
            json.put("failoverMaxMs", summary.failoverMaxMs());
            json.put("partitionFailoverMaxMs", summary.partitionFailoverMaxMs());
            Files.writeString(config.out().resolve("summary.json"), JSON.writeValueAsString(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.print(report);
        out.println("history: " + config.out().resolve("history.jsonl") + "  timeline: " + config.out().resolve("timeline.html"));
        return new Result(violations, summary, List.copyOf(errors), config.out());
    }

    // ---- workload ----

    private final class Client implements Runnable {
        private final String id;
        private final Random random;
        private final RouterClient http;
        private SessionToken token = SessionToken.fresh();
        private String lastOwnKey;
        private long seq;

        Client(String id, Random random) {
            this.id = id;
            this.random = random;
            this.http = new RouterClient(cluster.routerUrl(), Duration.ofSeconds(3));
        }

        @Override
        public void run() {
            while (!stopClients.get()) {
                double r = random.nextDouble();
                if (r < 0.45) {
                    write(id + "-" + (++seq));
                } else if (r < 0.6) {
                    write("hot-" + random.nextInt(HOT_KEYS));
                } else if (r < 0.8 && lastOwnKey != null) {
                    read(lastOwnKey);
                } else {
                    read("hot-" + random.nextInt(HOT_KEYS));
                }
            }
        }

        private void write(String key) {
            String value = id + "#" + (++seq);
            String concern = config.writeConcern();
            history.record(t -> Event.invoke(t, id, "write", key, value, concern, null));
            RouterClient.Response r = http.put(key, value, concern, token.toString());
            advance(r);
            if (r.isOk()) {
                history.record(t -> Event.writeOk(t, id, key, value, concern, r.position(), r.servedBy(), r.replayed()));
                if (!key.startsWith("hot-")) {
                    lastOwnKey = key;
                }
            } else {
                String type = definitelyNotWritten(r) ? "fail" : "unknown";
                history.record(t -> Event.failed(t, id, "write", type, key, concern, null, describe(r)));
                backOff(r);
            }
        }

        private void read(String key) {
            history.record(t -> Event.invoke(t, id, "read", key, null, null, "session"));
            RouterClient.Response r = http.get(key, "session", token.toString());
            advance(r);
            if (r.isOk() || (r.status() == 404 && "NOT_FOUND".equals(r.error()))) {
                boolean found = r.isOk();
                history.record(t -> Event.readOk(t, id, key, "session", found, found ? r.body() : null, found ? r.version() : null,
                        r.servedBy()));
            } else {
                history.record(t -> Event.failed(t, id, "read", r.status() < 0 ? "unknown" : "fail", key, null, "session", describe(r)));
                backOff(r);
            }
        }

        /** Keeps the newest token; a response never moves the session back. */
        private void advance(RouterClient.Response r) {
            if (r.session() == null) {
                return;
            }
            try {
                SessionToken next = SessionToken.parse(r.session());
                if (next.position().compareTo(token.position()) >= 0) {
                    token = next;
                }
            } catch (IllegalArgumentException e) {
                // a malformed token is the router's bug; the checker will see its effects, keep ours
            }
        }

        private void backOff(RouterClient.Response r) {
            // Without a leader every request fails fast; pausing a little keeps the history readable.
            sleepQuietly(r.status() == 503 ? 20 : 5);
        }
    }

    /** Only errors that mean "rejected before it reached the log" count as fail; anything else may have happened. */
    static boolean definitelyNotWritten(RouterClient.Response r) {
        if (r.status() >= 400 && r.status() < 500 && r.status() != 408) {
            return true;
        }
        return r.status() == 503 && r.error() != null
                && Set.of("NO_LEADER", "NOT_LEADER", "LEASE_EXPIRED", "FENCED", "UNKNOWN_EPOCH").contains(r.error());
    }

    static String describe(RouterClient.Response r) {
        return r.status() < 0 ? r.error() : r.status() + (r.error() == null ? "" : " " + r.error());
    }

    // ---- observation ----

    private void sample() {
        Map<String, String> last = new HashMap<>();
        while (!stopSampler.get()) {
            for (Map.Entry<String, ReplicaInfo> e : cluster.infos(300).entrySet()) {
                ReplicaInfo i = e.getValue();
                String role = i.getRole() == Role.ROLE_LEADER ? "leader" : i.getRole() == Role.ROLE_FOLLOWER ? "follower" : "unassigned";
                String state = role + "/" + i.getEpoch() + "/" + i.getAcceptingWrites();
                // Every leader sample is kept (they prove or disprove two leaders); others only on change.
                if (role.equals("leader") || !state.equals(last.get(e.getKey()))) {
                    history.record(t -> Event.sample(t, e.getKey(), role, i.getEpoch(), i.getAcceptingWrites()));
                }
                last.put(e.getKey(), state);
            }
            sleepQuietly(SAMPLE_INTERVAL_MS);
        }
    }

    // ---- faults ----

    /** Partitions this run injects: none without a working partitioner. */
    private int partitions() {
        return partitioner.unavailableReason() == null ? config.partitions() : 0;
    }

    /**
     * The fault schedule: each leader kill followed by one other fault in turn (kill a follower,
     * pause a follower, pause the leader), partitions (leader, follower, leader, ...) interleaved
     * one after each kill pair. Pure.
     */
    static List<String> plan(int leaderKills, int partitions) {
        List<String> others = List.of("kill-follower", "pause-follower", "pause-leader");
        List<String> faults = new ArrayList<>();
        for (int k = 0; k < Math.max(leaderKills, partitions); k++) {
            if (k < leaderKills) {
                faults.add("kill-leader");
                faults.add(others.get(k % others.size()));
            }
            if (k < partitions) {
                faults.add(k % 2 == 0 ? "partition-leader" : "partition-follower");
            }
        }
        return faults;
    }

    private void injectFaults() {
        List<String> faults = plan(config.leaderKills(), partitions());
        long start = System.nanoTime();
        long gapMs = config.duration().toMillis() / (faults.size() + 1);
        for (int i = 0; i < faults.size(); i++) {
            long dueMs = gapMs * (i + 1);
            sleepQuietly(Math.max(0, dueMs - (System.nanoTime() - start) / 1_000_000));
            if (!awaitRecovery(i == 0 ? "start" : faults.get(i - 1))) {
                return;
            }
            sleepQuietly(config.settleMs());
            String fault = faults.get(i);
            out.printf("chaos: [%d/%d] %s%n", i + 1, faults.size(), fault);
            switch (fault) {
                case "kill-leader": {
                    Optional<ReplicaInfo> leader = cluster.awaitLeader(Duration.ofSeconds(30));
                    if (leader.isEmpty()) {
                        errors.add("no leader to kill at fault " + (i + 1));
                        break;
                    }
                    history.record(t -> Event.fault(t, "kill-leader", leader.get().getReplicaId(), leader.get().getEpoch()));
                    cluster.kill(leader.get().getReplicaId());
                    break;
                }
                case "kill-follower": {
                    String f = follower();
                    history.record(t -> Event.fault(t, "kill-follower", f, null));
                    cluster.kill(f);
                    break;
                }
                case "pause-follower":
                case "pause-leader": {
                    String target = fault.equals("pause-leader") ? cluster.leaderInfo().map(ReplicaInfo::getReplicaId).orElse(follower()) : follower();
                    history.record(t -> Event.fault(t, fault, target, null));
                    cluster.pause(target);
                    sleepQuietly(config.pauseMs());
                    history.record(t -> Event.fault(t, "resume", target, null));
                    cluster.resume(target);
                    break;
                }
                case "partition-leader":
                case "partition-follower": {
                    String target;
                    Long epoch = null;
                    if (fault.equals("partition-leader")) {
                        Optional<ReplicaInfo> leader = cluster.awaitLeader(Duration.ofSeconds(30));
                        if (leader.isEmpty()) {
                            errors.add("no leader to partition at fault " + (i + 1));
                            break;
                        }
                        target = leader.get().getReplicaId();
                        epoch = leader.get().getEpoch();
                    } else {
                        target = follower();
                    }
                    partition(target, epoch);
                    break;
                }
                default:
                    throw new IllegalStateException("unknown fault " + fault);
            }
        }
        // Let the workload run on after the last fault for as long as the gap between faults.
        sleepQuietly(Math.max(config.settleMs(), config.duration().toMillis() - (System.nanoTime() - start) / 1_000_000));
        awaitRecovery(faults.isEmpty() ? "start" : faults.get(faults.size() - 1));
        sleepQuietly(config.settleMs());
    }

    /**
     * Cuts {@code target} off for {@code partitionMs}, then heals it. {@code epoch}: the epoch it
     * led when cut (null for a follower); the summary measures failover from it.
     */
    private void partition(String target, Long epoch) {
        history.record(t -> Event.fault(t, "partition", target, epoch));
        partitioned.add(target);
        try {
            partitioner.cut(target);
        } catch (RuntimeException e) {
            errors.add("could not partition " + target + ": " + e.getMessage());
        }
        sleepQuietly(config.partitionMs());
        heal(target);
    }

    private void heal(String target) {
        try {
            partitioner.heal(target);
            partitioned.remove(target);
            history.record(t -> Event.fault(t, "heal", target, null));
        } catch (RuntimeException e) {
            errors.add("could not heal " + target + ": " + e.getMessage());
        }
    }

    private String follower() {
        Optional<ReplicaInfo> leader = cluster.leaderInfo();
        List<String> ids = new ArrayList<>();
        for (ClusterDescription.Service s : cluster.description().replicas()) {
            if (leader.isEmpty() || !s.name().equals(leader.get().getReplicaId())) {
                ids.add(s.name());
            }
        }
        return ids.get(new Random(config.seed() + history.snapshot().size()).nextInt(ids.size()));
    }

    private boolean awaitRecovery(String after) {
        long deadline = System.currentTimeMillis() + RECOVERY_TIMEOUT_MS;
        while (!cluster.isHealthy(CAUGHT_UP_LAG_ENTRIES)) {
            if (System.currentTimeMillis() > deadline) {
                String msg = "the cluster did not recover within " + RECOVERY_TIMEOUT_MS + " ms after " + after
                        + " (every replica running, one leader, followers streaming); no further faults injected";
                out.println("chaos: " + msg);
                errors.add(msg);
                return false;
            }
            sleepQuietly(100);
        }
        return true;
    }

    /** Heals any partition and resumes anything still paused, so the end state is a whole cluster. */
    private void healEverything() {
        for (String r : List.copyOf(partitioned)) {
            heal(r);
        }
        for (ClusterDescription.Service s : cluster.description().replicas()) {
            if (Pids.find(s.pid(), Pids.portMarker(s.port())).isPresent() && Pids.isPaused(s.pid())) {
                Pids.signalQuietly(s.pid(), "CONT");
            }
        }
    }

    // ---- after quiescence ----

    private Map<String, ReplicaFinal> converge() {
        long deadline = System.currentTimeMillis() + CONVERGENCE_TIMEOUT_MS;
        Map<String, ReplicaFinal> last;
        while (true) {
            last = new LinkedHashMap<>();
            for (ReplicaClient c : cluster.replicaClients()) {
                Optional<StatusResponse> s = c.tryStatus(true, 10_000);
                Rollback rb = rollback(Path.of(cluster.description().require(c.id()).dataDir()));
                last.put(c.id(), s.map(x -> new ReplicaFinal(true, x.getDigest(), x.getDigestLsn(), x.getRolledBackEntries(), rb.entries, rb.keys))
                        .orElse(new ReplicaFinal(false, null, 0, 0, rb.entries, rb.keys)));
            }
            Set<String> states = new HashSet<>();
            last.values().forEach(r -> states.add(r.answered() + "/" + r.digestLsn() + "/" + r.digest()));
            if ((states.size() == 1 && last.values().iterator().next().answered()) || System.currentTimeMillis() > deadline) {
                return last;
            }
            sleepQuietly(200);
        }
    }

    private record Rollback(long entries, Set<String> keys) {}

    /** Counts the entries in {@code <data dir>/rollback/*.jsonl} and collects every key they mention. */
    static Rollback rollback(Path dataDir) {
        Path dir = dataDir.resolve("rollback");
        if (!Files.isDirectory(dir)) {
            return new Rollback(0, Set.of());
        }
        long entries = 0;
        Set<String> keys = new HashSet<>();
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) {
                        continue;
                    }
                    entries++;
                    try {
                        collectKeys(json.readTree(line), keys);
                    } catch (IOException e) {
                        // counted, but an unparseable line names no key; a lost leader write would then be reported
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read rollback files in " + dir, e);
        }
        return new Rollback(entries, keys);
    }

    private static void collectKeys(JsonNode n, Set<String> keys) {
        if (n.isObject()) {
            n.fields().forEachRemaining(f -> {
                String name = f.getKey().toLowerCase(java.util.Locale.ROOT);
                if ((name.equals("key") || name.equals("deletekey") || name.equals("delete_key")) && f.getValue().isTextual()) {
                    keys.add(f.getValue().asText());
                } else {
                    collectKeys(f.getValue(), keys);
                }
            });
        } else if (n.isArray()) {
            n.forEach(x -> collectKeys(x, keys));
        }
    }

    /** Reads every key from the leader with a strong requirement, page by page. */
    private boolean readFinalState(Map<String, FinalValue> into) {
        Optional<ReplicaInfo> leader = cluster.awaitLeader(Duration.ofSeconds(30));
        if (leader.isEmpty()) {
            errors.add("no leader after quiescence: the final state could not be read");
            return false;
        }
        ReplicaClient c = cluster.client(leader.get().getReplicaId());
        ReadRequirement strong = ReadRequirement.newBuilder().setRequireLeader(true).build();
        String cursor = "";
        try {
            do {
                ScanResponse page = c.scan("", cursor, 1000, strong, 10_000);
                if (page.hasError() && page.getError().getCodeValue() != 0) {
                    errors.add("final scan on " + c.id() + " failed: " + page.getError().getCode() + " " + page.getError().getMessage());
                    return false;
                }
                for (KeyValue kv : page.getItemsList()) {
                    into.put(kv.getKey(), new FinalValue(kv.getValue().toStringUtf8(), LogPosition.of(kv.getVersion()).toString()));
                }
                cursor = page.getNextCursor();
            } while (!cursor.isEmpty());
        } catch (RuntimeException e) {
            errors.add("final scan on " + c.id() + " failed: " + e.getMessage());
            return false;
        }
        return true;
    }

    private String report(RunSummary s, List<Violation> violations, Map<String, ReplicaFinal> replicas) {
        StringBuilder sb = new StringBuilder();
        sb.append("\nTandem chaos report (write concern ").append(config.writeConcern()).append(", ").append(config.clients())
                .append(" clients, seed ").append(config.seed()).append(")\n");
        sb.append(s.format());
        replicas.forEach((id, r) -> sb.append(String.format(java.util.Locale.ROOT, "  %-15s digest %s at lsn %d, %d rolled back, %d in rollback files%n",
                id, r.digest() == null ? "-" : r.digest().substring(0, Math.min(12, r.digest().length())), r.digestLsn(),
                r.rolledBackEntries(), r.rollbackFileEntries())));
        sb.append("  checked         ").append(String.join(", ", HistoryChecker.propertyLabels())).append('\n');
        for (String e : errors) {
            sb.append("  ERROR ").append(e).append('\n');
        }
        if (violations.isEmpty() && errors.isEmpty()) {
            sb.append("  result          PASS: no violations\n");
        } else {
            sb.append("  result          FAIL: ").append(violations.size()).append(" violation(s)\n");
            violations.forEach(v -> sb.append("    - ").append(v).append('\n'));
        }
        return sb.toString();
    }

    static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
