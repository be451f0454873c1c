package dev.tandem.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tandem.cli.chaos.ChaosCommand;
import dev.tandem.cli.client.ReplicaClient;
import dev.tandem.cli.client.RouterClient;
import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Repo;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ReplicaInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/tandem bench}: write throughput and latency per write concern, read throughput per
 * consistency level, the latency the router adds over a direct replica call, and failover time
 * over N leader kills. Latencies are recorded in HdrHistograms (microseconds, 3 significant digits).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the local cluster: writes per concern, reads per consistency, router overhead, failover time.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--duration", defaultValue = "10s", description = "length of each throughput phase (default: ${DEFAULT-VALUE})")
    String duration;
    @Option(names = "--clients", defaultValue = "16", description = "concurrent clients per phase (default: ${DEFAULT-VALUE})")
    int clients;
    @Option(names = "--warmup", defaultValue = "20s", description = "unmeasured writes and reads before the first phase, so the "
            + "services' JIT compilers are done; 0s skips it (default: ${DEFAULT-VALUE})")
    String warmup;
    @Option(names = "--kills", defaultValue = "5", description = "leader kills for the failover figure; 0 skips it (default: ${DEFAULT-VALUE})")
    int kills;
    @Option(names = "--value-bytes", defaultValue = "100", description = "size of each written value, bytes (default: ${DEFAULT-VALUE})")
    int valueBytes;
    @Option(names = "--dir", description = "local cluster directory (default: .tandem); a cluster is started there if none runs")
    Path dir;
    @Option(names = "--json", description = "also write the results as JSON to this file")
    Path json;

    /** Highest latency a histogram records, in microseconds (a minute). */
    static final long MAX_LATENCY_US = 60_000_000L;
    /** Keys read in the read phases. */
    static final int READ_KEYS = 1000;

    public record Row(String phase, String variant, long ok, long errors, double perSecond, double p50Ms, double p99Ms, double maxMs) {}

    @Override
    public Integer call() throws Exception {
        Path clusterDir = dir != null ? dir.toAbsolutePath().normalize() : Repo.defaultClusterDir();
        Optional<LocalCluster> running = LocalCluster.find(clusterDir);
        LocalCluster cluster = running.orElseGet(() -> LocalCluster.up(clusterDir, 3, "one", 1000, System.out));
        Duration d = ChaosCommand.parseDuration(duration);
        List<Row> rows = new ArrayList<>();
        try {
            String router = cluster.routerUrl();
            System.out.printf("bench: %d clients, %s per phase, %d-byte values, router %s%n", clients, d, valueBytes, router);
            String value = "x".repeat(valueBytes);
            Duration w = ChaosCommand.parseDuration(warmup);
            if (!w.isZero()) {
                // Measured phases right after a start measure JIT compilation: 2-3x slower.
                System.out.println("bench: warming up for " + w + " (not measured) ...");
                phase("warmup", "write", w.dividedBy(2), clients, router, (http, i) -> http.put("bench-w-" + (i % 10_000), value, "one", null));
                phase("warmup", "read", w.dividedBy(2), clients, router, (http, i) -> http.get("bench-w-" + (i % 10_000), "session", null));
            }
            for (String concern : List.of("leader", "one", "majority", "all")) {
                System.out.println("bench: writes with concern " + concern + " ...");
                rows.add(phase("write", concern, d, clients, router, (http, i) -> http.put("bench-w-" + (i % 10_000), value, concern, null)));
            }
            System.out.println("bench: loading " + READ_KEYS + " keys for the read phases ...");
            String token = null;
            RouterClient loader = new RouterClient(router, Duration.ofSeconds(5));
            for (int i = 0; i < READ_KEYS; i++) {
                RouterClient.Response r = loader.put("bench-r-" + i, value, "all", null);
                if (r.isOk()) {
                    token = r.session();
                }
            }
            String session = token;
            for (String consistency : List.of("strong", "bounded;max-staleness-ms=1000", "session", "eventual")) {
                System.out.println("bench: reads with consistency " + consistency + " ...");
                rows.add(phase("read", consistency, d, clients, router, (http, i) -> http.get("bench-r-" + ThreadLocalRandom.current().nextInt(READ_KEYS),
                        consistency, consistency.equals("session") ? session : null)));
            }
            System.out.println("bench: router overhead (1 client, direct gRPC Get vs the router's GET) ...");
            try {
                rows.addAll(routerOverhead(cluster, d));
            } catch (RuntimeException e) {
                System.out.println("  skipped: " + e.getMessage());
            }
            if (kills > 0) {
                System.out.println("bench: failover over " + kills + " leader kills ...");
                rows.add(failover(cluster, kills));
            }
        } finally {
            cluster.close();
        }
        String table = table(rows);
        System.out.println();
        System.out.print(table);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("clients", clients);
        out.put("phaseSeconds", d.toSeconds());
        out.put("valueBytes", valueBytes);
        out.put("cpus", Runtime.getRuntime().availableProcessors());
        out.put("rows", rows);
        String text = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out);
        Path file = json != null ? json : clusterDir.resolve("bench").resolve("bench-" + System.currentTimeMillis() + ".json");
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, text);
        System.out.println("json: " + file);
        return 0;
    }

    interface Op {
        RouterClient.Response call(RouterClient http, long i);
    }

    /** Runs {@code clients} threads calling {@code op} for {@code d}; latency of successful calls only. */
    static Row phase(String phase, String variant, Duration d, int clients, String router, Op op) throws InterruptedException {
        Histogram all = new Histogram(MAX_LATENCY_US, 3);
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        List<Histogram> perThread = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            Histogram h = new Histogram(MAX_LATENCY_US, 3);
            perThread.add(h);
            RouterClient http = new RouterClient(router, Duration.ofSeconds(10));
            Thread t = new Thread(() -> {
                long i = ThreadLocalRandom.current().nextInt(1_000_000);
                while (!stop.get()) {
                    RouterClient.Response r = op.call(http, i++);
                    if (r.isOk()) {
                        h.recordValue(Math.min(MAX_LATENCY_US, r.latencyNanos() / 1000));
                    } else {
                        errors.incrementAndGet();
                        firstError.compareAndSet(null, r.status() + " " + r.error());
                    }
                }
            });
            threads.add(t);
        }
        long start = System.nanoTime();
        threads.forEach(Thread::start);
        Thread.sleep(d.toMillis());
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        perThread.forEach(all::add);
        if (firstError.get() != null) {
            System.out.println("  " + errors.get() + " errors, first: " + firstError.get());
        }
        return row(phase, variant, all, errors.get(), seconds);
    }

    static Row row(String phase, String variant, Histogram h, long errors, double seconds) {
        return new Row(phase, variant, h.getTotalCount(), errors, h.getTotalCount() / seconds,
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0);
    }

    private List<Row> routerOverhead(LocalCluster cluster, Duration d) {
        ReplicaInfo leader = cluster.awaitLeader(Duration.ofSeconds(30)).orElseThrow(() -> new IllegalStateException("no leader: is the cluster healthy? bin/tandem local status"));
        ReplicaClient direct = cluster.client(leader.getReplicaId());
        RouterClient http = new RouterClient(cluster.routerUrl(), Duration.ofSeconds(5));
        Histogram viaGrpc = new Histogram(MAX_LATENCY_US, 3);
        Histogram viaRouter = new Histogram(MAX_LATENCY_US, 3);
        long errors = 0;
        long end = System.nanoTime() + d.toNanos();
        long startNanos = System.nanoTime();
        int i = 0;
        while (System.nanoTime() < end) {
            String key = "bench-r-" + (i++ % READ_KEYS);
            long t0 = System.nanoTime();
            try {
                direct.get(key, ReadRequirement.getDefaultInstance(), 5000);
                viaGrpc.recordValue(Math.min(MAX_LATENCY_US, (System.nanoTime() - t0) / 1000));
            } catch (RuntimeException e) {
                errors++;
            }
            RouterClient.Response r = http.get(key, "strong", null);
            if (r.isOk()) {
                viaRouter.recordValue(Math.min(MAX_LATENCY_US, r.latencyNanos() / 1000));
            } else {
                errors++;
            }
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        List<Row> rows = new ArrayList<>();
        rows.add(row("overhead", "direct gRPC Get on the leader", viaGrpc, 0, seconds));
        rows.add(row("overhead", "router GET strong (same leader)", viaRouter, errors, seconds));
        rows.add(new Row("overhead", "router adds (p50, p99)", 0, 0, 0,
                (viaRouter.getValueAtPercentile(50) - viaGrpc.getValueAtPercentile(50)) / 1000.0,
                (viaRouter.getValueAtPercentile(99) - viaGrpc.getValueAtPercentile(99)) / 1000.0, Double.NaN));
        return rows;
    }

    /** Kill the leader; the time until a write is acknowledged in a newer epoch is one failover. */
    private Row failover(LocalCluster cluster, int n) throws InterruptedException {
        Histogram h = new Histogram(MAX_LATENCY_US, 3);
        AtomicBoolean stop = new AtomicBoolean();
        // (epoch of the newest acknowledged write, when it was acknowledged)
        AtomicReference<long[]> lastOk = new AtomicReference<>(new long[] {0, 0});
        Thread writer = new Thread(() -> {
            RouterClient http = new RouterClient(cluster.routerUrl(), Duration.ofSeconds(2));
            long i = 0;
            while (!stop.get()) {
                RouterClient.Response r = http.put("bench-failover-" + (i++ % 100), "v", "one", null);
                if (r.isOk() && r.position() != null) {
                    try {
                        long epoch = LogPosition.parse(r.position()).epoch();
                        long now = System.nanoTime();
                        lastOk.updateAndGet(prev -> epoch > prev[0] ? new long[] {epoch, now} : prev);
                    } catch (IllegalArgumentException e) {
                        // not a position: cannot attribute it to an epoch
                    }
                } else if (!r.isOk()) {
                    sleep(5);
                }
            }
        });
        writer.start();
        long errors = 0;
        try {
            for (int k = 0; k < n; k++) {
                long deadline = System.currentTimeMillis() + 60_000;
                while (!cluster.isHealthy(100) && System.currentTimeMillis() < deadline) {
                    sleep(100);
                }
                sleep(1000);
                Optional<ReplicaInfo> leader = cluster.awaitLeader(Duration.ofSeconds(30));
                if (leader.isEmpty()) {
                    errors++;
                    continue;
                }
                long epoch = leader.get().getEpoch();
                long killedAt = System.nanoTime();
                cluster.kill(leader.get().getReplicaId());
                long waitUntil = System.currentTimeMillis() + 30_000;
                while (lastOk.get()[0] <= epoch && System.currentTimeMillis() < waitUntil) {
                    sleep(2);
                }
                long[] ok = lastOk.get();
                if (ok[0] > epoch) {
                    long us = (ok[1] - killedAt) / 1000;
                    h.recordValue(Math.max(0, Math.min(MAX_LATENCY_US, us)));
                    System.out.printf("  kill %d: %s (epoch %d) -> first write in epoch %d after %.0f ms%n", k + 1,
                            leader.get().getReplicaId(), epoch, ok[0], us / 1000.0);
                } else {
                    errors++;
                    System.out.printf("  kill %d: no write acknowledged in a newer epoch within 30 s%n", k + 1);
                }
            }
        } finally {
            stop.set(true);
            writer.join(5000);
        }
        return new Row("failover", "kill leader -> first acknowledged write", h.getTotalCount(), errors, 0,
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0);
    }

    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        String fmt = "| %-8s | %-40s | %9s | %7s | %10s | %9s | %9s | %9s |%n";
        sb.append(String.format(Locale.ROOT, fmt, "phase", "variant", "ok", "errors", "ops/s", "p50 ms", "p99 ms", "max ms"));
        sb.append(String.format(Locale.ROOT, fmt, "---", "---", "---:", "---:", "---:", "---:", "---:", "---:"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, fmt, r.phase(), r.variant(), r.ok() == 0 && r.phase().equals("overhead") ? "" : r.ok(),
                    r.errors(), r.perSecond() == 0 ? "" : String.format(Locale.ROOT, "%.0f", r.perSecond()),
                    String.format(Locale.ROOT, "%.2f", r.p50Ms()), String.format(Locale.ROOT, "%.2f", r.p99Ms()),
                    Double.isNaN(r.maxMs()) ? "" : String.format(Locale.ROOT, "%.2f", r.maxMs())));
        }
        return sb.toString();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
