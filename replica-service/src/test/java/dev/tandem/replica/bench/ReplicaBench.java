package dev.tandem.replica.bench;

import com.google.protobuf.ByteString;
import dev.tandem.client.KvPipeline;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.process.ServiceProcess;
import dev.tandem.replica.it.ReplicaCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;

/**
 * Durable write throughput and latency against three local replica processes, per write concern
 * and client count. Not a test: run it with {@code replica-service/bin/bench-replica} (see
 * docs/replica.md). Each client issues one 100-byte put at a time (closed loop) over a shared
 * gRPC channel, either as unary {@code Write} calls (a blocking thread per client) or on the
 * {@code Pipeline} stream the router uses (the next put leaves from the last one's callback); both
 * are measured in the same run, so one is the other's baseline. Latency is measured at the client with HdrHistogram; the group-commit
 * batch size is the leader's {@code tandem_replica_group_commit_entries} mean over the run; {@code cpu us/w}
 * is the whole machine's busy CPU time per acknowledged write over the measured seconds (every
 * process: the replicas, this client, the kernel), the figure bin/pg-baseline gives for PostgreSQL.
 *
 * <p>System properties: {@code bench.seconds} (measured seconds per cell, default 8),
 * {@code bench.warmup-seconds} (default 2, before each cell), {@code bench.cluster-warmup-seconds}
 * (default 60: writes with {@code one} at the largest client count before the first cell, unmeasured;
 * without it the first cells measure the replicas' JIT compilation: after 20 s the C2 compiler
 * threads still took a third of the two cores, and {@code one} at 16 clients ran 5x slower),
 * {@code bench.clients} (default 16,64),
 * {@code bench.concerns} (default leader,one,majority,all), {@code bench.value-bytes} (default 100),
 * {@code bench.transports} (default pipeline,unary), {@code bench.replica-properties} (replica
 * settings, "k=v,k=v"; default none).
 */
public final class ReplicaBench {

    /** Linux's USER_HZ, the unit of /proc/stat: 100 on every architecture Tandem runs on. */
    private static final double CLOCK_TICKS_PER_SECOND = 100;

    public static void main(String[] args) throws Exception {
        int seconds = Integer.getInteger("bench.seconds", 8);
        int warmup = Integer.getInteger("bench.warmup-seconds", 2);
        int valueBytes = Integer.getInteger("bench.value-bytes", 100);
        List<Integer> clients = new ArrayList<>();
        for (String c : System.getProperty("bench.clients", "16,64").split(",")) {
            clients.add(Integer.parseInt(c.trim()));
        }
        List<WriteConcern> concerns = new ArrayList<>();
        for (String c : System.getProperty("bench.concerns", "leader,one,majority,all").split(",")) {
            concerns.add(WriteConcerns.parse(c));
        }
        List<String> transports = List.of(System.getProperty("bench.transports", "pipeline,unary").split(","));
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
        try (ReplicaCluster cluster = new ReplicaCluster("bench", 3,
                ServiceProcess.propertiesFrom(System.getProperty("bench.replica-properties", ""))).startAll()) {
            cluster.form("r1", 1);
            String leaderUrl = cluster.process("r1").httpUrl();
            ManagedChannel channel = ManagedChannelBuilder.forTarget(cluster.process("r1").address()).usePlaintext().directExecutor().build();
            KvPipeline pipeline = new KvPipeline(channel, timers, 10_000);
            int clusterWarmup = Integer.getInteger("bench.cluster-warmup-seconds", 60);
            if (clusterWarmup > 0) {
                System.out.println("warming the cluster up for " + clusterWarmup + " s (not measured)");
                run(channel, transports.get(0).equals("unary") ? null : pipeline, leaderUrl, WriteConcern.WRITE_CONCERN_ONE, clients.stream().max(Integer::compare).orElse(16), 0,
                        clusterWarmup, valueBytes);
            }
            List<String> rows = new ArrayList<>();
            rows.add(String.format("%-9s %-9s %7s %10s %9s %9s %9s %10s %9s %8s %9s", "transport", "concern", "clients", "writes/s", "p50 ms", "p99 ms",
                    "max ms", "mean batch", "fsync ms", "errors", "cpu us/w"));
            for (WriteConcern concern : concerns) {
                for (int n : clients) {
                    for (String transport : transports) {
                        String row = String.format("%-9s ", transport)
                                + run(channel, transport.equals("unary") ? null : pipeline, leaderUrl, concern, n, warmup, seconds, valueBytes);
                        System.out.println(row);
                        rows.add(row);
                    }
                }
            }
            pipeline.close();
            channel.shutdownNow();
            timers.shutdownNow();
            System.out.println();
            System.out.println("Tandem replica benchmark: 3 replicas on 127.0.0.1, " + valueBytes + "-byte values, "
                    + seconds + " s per cell, " + Runtime.getRuntime().availableProcessors() + " cores");
            rows.forEach(System.out::println);
        }
    }

    /** One cell; {@code pipeline} null = unary calls on {@code channel}. */
    private static String run(ManagedChannel channel, KvPipeline pipeline, String leaderUrl, WriteConcern concern, int clients,
                              int warmupS, int seconds, int valueBytes) throws Exception {
        Recorder recorder = new Recorder(3);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicLong ok = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        ByteString value = ByteString.copyFrom(new byte[valueBytes]);
        Supplier<WriteRequest> next = () -> WriteRequest.newBuilder().setWriteConcern(concern)
                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("bench/" + ThreadLocalRandom.current().nextInt(100_000)).setValue(value)))
                .build();
        BiConsumer<Long, WriteResponse> record = (t0, r) -> {
            if (measuring.get()) {
                if (r != null && r.getError().getCode() == ErrorCode.OK) {
                    recorder.recordValue((System.nanoTime() - t0) / 1000);
                    ok.incrementAndGet();
                } else {
                    errors.incrementAndGet();
                }
            }
        };
        List<Thread> threads = new ArrayList<>();
        CountDownLatch pipelinedDone = new CountDownLatch(pipeline == null ? 0 : clients);
        for (int t = 0; t < clients; t++) {
            if (pipeline != null) {
                // Closed loop without a thread per client: the next write leaves from the callback
                // of the last one (on the channel's event loop), as an application server would
                // send it, so the client spends no CPU on waking threads.
                new Object() {
                    void send() {
                        if (stop.get()) {
                            pipelinedDone.countDown();
                            return;
                        }
                        long t0 = System.nanoTime();
                        pipeline.write(next.get(), 10_000).whenComplete((r, e) -> {
                            record.accept(t0, e == null ? r : null);
                            if (e == null) {
                                send();
                            } else {
                                // A failed call may complete at once: go on from another stack.
                                CompletableFuture.delayedExecutor(1, TimeUnit.MILLISECONDS).execute(this::send);
                            }
                        });
                    }
                }.send();
                continue;
            }
            Thread th = new Thread(() -> {
                KvServiceGrpc.KvServiceBlockingStub stub = KvServiceGrpc.newBlockingStub(channel);
                while (!stop.get()) {
                    long t0 = System.nanoTime();
                    WriteResponse r;
                    try {
                        r = stub.write(next.get());
                    } catch (Exception e) {
                        r = null;
                    }
                    record.accept(t0, r);
                }
            });
            th.start();
            threads.add(th);
        }
        Thread.sleep(warmupS * 1000L);
        double[] before = groupCommit(leaderUrl);
        double[] fsyncBefore = summary(leaderUrl, "tandem_replica_fsync_seconds");
        recorder.reset();
        long busyBefore = busyTicks();
        measuring.set(true);
        long start = System.nanoTime();
        Thread.sleep(seconds * 1000L);
        measuring.set(false);
        long elapsed = System.nanoTime() - start;
        long busyAfter = busyTicks();
        Histogram h = recorder.getIntervalHistogram();
        double[] after = groupCommit(leaderUrl);
        double[] fsyncAfter = summary(leaderUrl, "tandem_replica_fsync_seconds");
        double fsyncMs = (fsyncAfter[1] - fsyncBefore[1]) == 0 ? 0 : 1000 * (fsyncAfter[0] - fsyncBefore[0]) / (fsyncAfter[1] - fsyncBefore[1]);
        stop.set(true);
        for (Thread th : threads) {
            th.join();
        }
        pipelinedDone.await();
        double meanBatch = (after[1] - before[1]) == 0 ? 0 : (after[0] - before[0]) / (after[1] - before[1]);
        String cpuPerWrite = busyBefore < 0 || busyAfter < 0 || ok.get() == 0 ? "-"
                : String.format("%.0f", (busyAfter - busyBefore) * 1e6 / CLOCK_TICKS_PER_SECOND / ok.get());
        return String.format("%-9s %7d %10.0f %9.2f %9.2f %9.2f %10.1f %9.2f %8d %9s", WriteConcerns.name(concern), clients,
                ok.get() / (elapsed / 1e9), h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
                h.getMaxValue() / 1000.0, meanBatch, fsyncMs, errors.get(), cpuPerWrite);
    }

    /**
     * The whole machine's busy CPU time so far (user, nice, system, irq, softirq; not idle, iowait
     * or steal), in clock ticks from /proc/stat; -1 where there is none. It counts the replicas,
     * this client and the kernel's work for them alike, as bin/pg-baseline counts PostgreSQL's
     * servers and pgbench, so the two systems' CPU per write compare.
     */
    private static long busyTicks() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            return Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6]) + Long.parseLong(f[7]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static double[] groupCommit(String url) throws IOException, InterruptedException {
        return summary(url, "tandem_replica_group_commit_entries");
    }

    /** {sum, count} of a summary or timer on the leader. */
    private static double[] summary(String url, String name) throws IOException, InterruptedException {
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/q/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double sum = 0;
        double count = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith(name + "_sum")) {
                sum = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            } else if (line.startsWith(name + "_count")) {
                count = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return new double[] {sum, count};
    }
}
