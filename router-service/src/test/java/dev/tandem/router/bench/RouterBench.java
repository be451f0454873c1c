package dev.tandem.router.bench;

import dev.tandem.client.KvPipeline;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.process.ServiceProcess;
import dev.tandem.router.it.TandemCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;

/**
 * Read throughput and latency through the router against a direct replica call, on a local
 * three-replica cluster of real processes (a benchmark, not a test; see docs/router.md for the
 * command). Closed loop: each of N clients keeps exactly one request in flight.
 *
 * <p>System properties: bench.clients (16), bench.seconds (15 per run), bench.router-warmup-seconds (30), bench.warmup-seconds (10),
 * bench.keys (1000), bench.value-bytes (100), bench.levels (session,eventual), bench.router-properties (none; "k=v,k=v").
 */
public final class RouterBench {

    private static final int CLIENTS = Integer.getInteger("bench.clients", 16);
    private static final int SECONDS = Integer.getInteger("bench.seconds", 15);
    private static final int WARMUP_SECONDS = Integer.getInteger("bench.warmup-seconds", 10);
    private static final int KEYS = Integer.getInteger("bench.keys", 1000);
    private static final int VALUE_BYTES = Integer.getInteger("bench.value-bytes", 100);
    /**
     * With {@code -Dbench.trace-requests=true} each GET through the router carries
     * {@code ?bench-request=<client>-<n>}, and a request that gets no answer is printed by that id, to
     * be looked up in the router's access log: {@code -Dbench.router-properties=quarkus.http.access-log.enabled=true}
     * writes each answered request line to router-service/target/it/bench-<n>/bench-router.log.
     */
    private static final boolean TRACE = Boolean.getBoolean("bench.trace-requests");
    /** Per client, the number of its last GET through the router (what TRACE sends). */
    private static final AtomicLongArray LAST_REQUEST = new AtomicLongArray(CLIENTS);

    /** One request of a closed loop: start it, call back with success when its answer is in. */
    interface Op {
        void run(int client, Consumer<Boolean> done);
    }

    record Result(String name, double perSecond, double p50Ms, double p99Ms, double p999Ms, long errors) {
        @Override
        public String toString() {
            return String.format("%-42s %9.0f req/s   p50 %6.3f ms   p99 %6.3f ms   p99.9 %6.3f ms   errors %d",
                    name, perSecond, p50Ms, p99Ms, p999Ms, errors);
        }
    }

    public static void main(String[] args) throws Exception {
        System.out.printf("RouterBench: %d clients, %d s per run (+%d s warm-up), %d keys of %d bytes, %d cores%n",
                CLIENTS, SECONDS, WARMUP_SECONDS, KEYS, VALUE_BYTES, Runtime.getRuntime().availableProcessors());
        try (TandemCluster cluster = new TandemCluster("bench", 3, Map.of())) {
            cluster.formWithLeader("r1");
            // Settings for the router under test (e.g. to compare event-loop counts).
            ServiceProcess router = cluster.startRouter("bench-router",
                    ServiceProcess.propertiesFrom(System.getProperty("bench.router-properties", "")));
            java.net.http.HttpClient setup = java.net.http.HttpClient.newHttpClient();
            awaitLeader(setup, router);

            // Load the keys through the router; the last token is every reader's starting position.
            String token = null;
            byte[] value = new byte[VALUE_BYTES];
            long writeStart = System.nanoTime();
            Histogram writes = new Histogram(3);
            for (int i = 0; i < KEYS; i++) {
                long t0 = System.nanoTime();
                HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(router.httpUrl() + "/v1/kv/bench/" + i))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(value));
                if (token != null) {
                    b.header("Tandem-Session", token);
                }
                HttpResponse<String> r = setup.send(b.build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() / 100 != 2) {
                    throw new IllegalStateException("load failed: " + r.statusCode() + " " + r.body());
                }
                token = r.headers().firstValue("Tandem-Session").orElseThrow();
                writes.recordValue((System.nanoTime() - t0) / 1000);
            }
            System.out.printf("loaded %d keys through the router with one sequential client (write concern one): %.0f writes/s, p50 %.2f ms, p99 %.2f ms%n",
                    KEYS, KEYS / ((System.nanoTime() - writeStart) / 1e9), writes.getValueAtPercentile(50) / 1000.0, writes.getValueAtPercentile(99) / 1000.0);
            LogPosition loaded = SessionToken.parse(token).position();
            awaitApplied(cluster, loaded.lsn());

            List<Result> results = new ArrayList<>();
            Vertx vertx = Vertx.vertx();
            try {
                HttpClient http = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(router.port())
                        .setKeepAlive(true).setTcpNoDelay(true), new PoolOptions().setHttp1MaxSize(CLIENTS));
                // Each client its own session at the loaded position, as 16 application instances would have.
                String[] tokens = new String[CLIENTS];
                for (int c = 0; c < CLIENTS; c++) {
                    tokens[c] = new SessionToken(SessionToken.fresh().sessionId(), loaded).toString();
                }
                // The router JVM needs far longer than one run's warm-up before C2 has compiled its hot
                // path on a busy 2-core machine: the first runs measured 5-10x below later ones.
                int routerWarmup = Integer.getInteger("bench.router-warmup-seconds", 30);
                System.out.printf("warming the router up for %d s (not measured)%n", routerWarmup);
                long warmUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(routerWarmup);
                while (System.nanoTime() < warmUntil) {
                    for (String level : List.of("session", "eventual")) {
                        CountDownLatch l = new CountDownLatch(CLIENTS * 200);
                        for (int c = 0; c < CLIENTS; c++) {
                            int client = c;
                            for (int i = 0; i < 200; i++) {
                                http.request(randomKeyGet())
                                        .compose(req -> req.putHeader("Tandem-Consistency", level).putHeader("Tandem-Session", tokens[client]).send())
                                        .compose(resp -> resp.body())
                                        .onComplete(ar -> l.countDown());
                            }
                        }
                        l.await(60, TimeUnit.SECONDS);
                    }
                }
                String[] levels = System.getProperty("bench.levels", "session,eventual").split(",");
                for (String level : levels) {
                    results.add(run("router GET, " + level, CLIENTS, (client, done) ->
                            http.request(randomKeyGet())
                                    .compose(req -> traced(req, client).putHeader("Tandem-Consistency", level).putHeader("Tandem-Session", tokens[client]).send())
                                    .compose(resp -> resp.body().map(body -> resp.statusCode() == 200))
                                    .onComplete(ar -> done.accept(ar.succeeded() && ar.result()))));
                }
                // The same reads from wrk, a load generator in C like pgbench: the JVM client above
                // spends a large share of this 2-core machine's CPU on its own HTTP work.
                if (WRK != null) {
                    for (String level : levels) {
                        results.add(wrk("router GET, " + level + ", wrk", router.port(), level, tokens));
                    }
                }
                results.add(run("router GET, session, 1 client", 1, (client, done) ->
                        http.request(randomKeyGet())
                                .compose(req -> traced(req, client).putHeader("Tandem-Session", tokens[0]).send())
                                .compose(resp -> resp.body().map(body -> resp.statusCode() == 200))
                                .onComplete(ar -> done.accept(ar.succeeded() && ar.result()))));
            } finally {
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }

            // The same reads sent straight to the followers over gRPC: on the pipeline stream, as the
            // router sends them, and as unary calls (what the router sent before the pipeline).
            List<ManagedChannel> channels = new ArrayList<>();
            ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
            try {
                List<KvServiceGrpc.KvServiceStub> stubs = new ArrayList<>();
                List<KvPipeline> pipelines = new ArrayList<>();
                for (String id : List.of("r2", "r3")) {
                    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", cluster.replica(id).port()).usePlaintext().directExecutor().build();
                    channels.add(ch);
                    stubs.add(KvServiceGrpc.newStub(ch));
                    pipelines.add(new KvPipeline(ch, timers, 10_000));
                }
                ReadRequirement req = ReadRequirement.newBuilder().setMinPosition(loaded.toProto()).setWaitMs(200).build();
                Op direct = (client, done) -> stubs.get(client % stubs.size())
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .get(GetRequest.newBuilder().setKey("bench/" + ThreadLocalRandom.current().nextInt(KEYS)).setRead(req).build(),
                                new StreamObserver<>() {
                                    @Override public void onNext(GetResponse r) { done.accept(r.getFound()); }
                                    @Override public void onError(Throwable t) { done.accept(false); }
                                    @Override public void onCompleted() { }
                                });
                Op pipelined = (client, done) -> pipelines.get(client % pipelines.size())
                        .get(GetRequest.newBuilder().setKey("bench/" + ThreadLocalRandom.current().nextInt(KEYS)).setRead(req).build(), 5_000)
                        .whenComplete((r, e) -> done.accept(e == null && r.getFound()));
                results.add(run("direct follower pipelined Get", CLIENTS, pipelined));
                results.add(run("direct follower pipelined Get, 1 client", 1, pipelined));
                results.add(run("direct follower unary gRPC Get", CLIENTS, direct));
                results.add(run("direct follower unary gRPC Get, 1 client", 1, direct));
                pipelines.forEach(KvPipeline::close);
            } finally {
                channels.forEach(ManagedChannel::shutdownNow);
                timers.shutdownNow();
            }

            HttpResponse<String> metrics = setup.send(HttpRequest.newBuilder(URI.create(router.httpUrl() + "/q/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            System.out.println();
            results.forEach(System.out::println);
            Result one = results.stream().filter(r -> r.name().equals("router GET, session, 1 client")).findFirst().orElseThrow();
            Result directOne = results.stream().filter(r -> r.name().equals("direct follower pipelined Get, 1 client")).findFirst().orElseThrow();
            System.out.printf("latency the router adds at 1 client (p50 router - p50 direct): %.3f ms%n", one.p50Ms() - directOne.p50Ms());
            for (String line : metrics.body().split("\n")) {
                if (line.startsWith("tandem_router_leader_fallbacks_total") || line.startsWith("tandem_router_read_cache_lookups_total")
                        || (line.startsWith("tandem_router_requests_total") && line.contains("operation=\"get\""))) {
                    System.out.println(line);
                }
            }
            System.out.printf("router's own measure, tandem_router_added_latency_seconds mean over all requests: %.3f ms%n", addedMeanMs(metrics.body()));
        }
    }

    private static HttpClientRequest traced(HttpClientRequest req, int client) {
        // In the query string, which the key routes ignore and the access log's request line shows.
        return TRACE ? req.setURI(req.getURI() + "?bench-request=" + client + "-" + LAST_REQUEST.incrementAndGet(client)) : req;
    }

    /**
     * A GET of a random loaded key. A connection that is not made within 5 s, or an answer that
     * does not come within 5 s, fails the request (an error in the results) instead of stopping
     * that client's loop for good.
     */
    private static RequestOptions randomKeyGet() {
        return new RequestOptions().setMethod(HttpMethod.GET).setURI("/v1/kv/bench/" + ThreadLocalRandom.current().nextInt(KEYS))
                .setConnectTimeout(5_000).setIdleTimeout(5_000);
    }

    /** An answer (or error) that has not come after this long is counted as an error and the client goes on. */
    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static Result run(String name, int clients, Op op) throws InterruptedException {
        Recorder recorder = new Recorder(3);
        AtomicLong errors = new AtomicLong();
        AtomicLong completed = new AtomicLong();
        AtomicLong stalls = new AtomicLong();
        long warmEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(WARMUP_SECONDS);
        long end = warmEnd + TimeUnit.SECONDS.toNanos(SECONDS);
        CountDownLatch finished = new CountDownLatch(clients);
        // When each client's request in flight started, 0 when none: whoever clears it (the answer,
        // or the watchdog below) owns the request's outcome and sends the client's next one.
        AtomicLongArray inFlightSince = new AtomicLongArray(clients);
        Runnable[] loops = new Runnable[clients];
        for (int c = 0; c < clients; c++) {
            int client = c;
            loops[c] = new Runnable() {
                @Override
                public void run() {
                    long t0 = System.nanoTime();
                    if (t0 >= end) {
                        finished.countDown();
                        return;
                    }
                    inFlightSince.set(client, t0);
                    op.run(client, ok -> {
                        if (!inFlightSince.compareAndSet(client, t0, 0)) {
                            return; // the watchdog gave up on it already
                        }
                        long t1 = System.nanoTime();
                        if (t0 >= warmEnd) {
                            if (ok) {
                                recorder.recordValue((t1 - t0) / 1000);
                                completed.incrementAndGet();
                            } else {
                                errors.incrementAndGet();
                            }
                        }
                        run();
                    });
                }
            };
        }
        // Twice a client stopped for good: one request's future never completed, although the
        // request has connect and idle timeouts and the router logged nothing (Vert.x's client
        // has had such races, e.g. eclipse-vertx/vert.x#5231; not pinned down here). A request
        // left without an outcome for 10 s is counted as an error (and printed), and its client
        // goes on, so one lost answer costs one error, not the run.
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
        watchdog.scheduleWithFixedDelay(() -> {
            long now = System.nanoTime();
            for (int c = 0; c < clients; c++) {
                long t0 = inFlightSince.get(c);
                if (t0 != 0 && now - t0 > STALL_NANOS && inFlightSince.compareAndSet(c, t0, 0)) {
                    stalls.incrementAndGet();
                    if (TRACE) {
                        System.out.printf("%s: client %d got no answer in 10 s; its last GET through the router was %d-%d%n",
                                name, c, c, LAST_REQUEST.get(c));
                    }
                    if (t0 >= warmEnd) {
                        errors.incrementAndGet();
                    }
                    loops[c].run();
                }
            }
        }, 1, 1, TimeUnit.SECONDS);
        try {
            for (Runnable loop : loops) {
                loop.run();
            }
            Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(warmEnd - System.nanoTime())));
            recorder.reset();
            completed.set(0);
            errors.set(0);
            if (!finished.await(WARMUP_SECONDS + SECONDS + 30, TimeUnit.SECONDS)) {
                throw new IllegalStateException(name + ": " + finished.getCount() + " of " + clients + " clients did not finish ("
                        + completed.get() + " requests completed and " + errors.get() + " failed after the warm-up)");
            }
        } finally {
            watchdog.shutdownNow();
        }
        if (stalls.get() > 0) {
            System.out.printf("%s: %d requests got no answer and no error within 10 s (counted as errors when after the warm-up)%n",
                    name, stalls.get());
        }
        Histogram h = recorder.getIntervalHistogram();
        Result r = new Result(name, completed.get() / (double) SECONDS, h.getValueAtPercentile(50) / 1000.0,
                h.getValueAtPercentile(99) / 1000.0, h.getValueAtPercentile(99.9) / 1000.0, errors.get());
        System.out.println(r);
        return r;
    }

    /** wrk on PATH, or null: the wrk rows are then left out (bin/bench-router installs it). */
    private static final String WRK = Stream.of(System.getenv("PATH").split(":"))
            .map(d -> Path.of(d, "wrk")).filter(Files::isExecutable)
            .map(Path::toString).findFirst().orElse(null);

    /** The one line bin/wrk-reads.lua prints when wrk is done. */
    private static final Pattern WRK_RESULT = Pattern.compile(
            "wrk-result requests=(\\d+) seconds=([\\d.]+) p50us=(\\d+) p99us=(\\d+) p999us=(\\d+) errors=(\\d+)");

    /**
     * Runs wrk against the router with CLIENTS connections on 2 threads: WARMUP_SECONDS unmeasured,
     * then SECONDS measured. Its Lua script (bin/wrk-reads.lua) prints the figures in one line.
     */
    private static Result wrk(String name, int port, String level, String[] tokens) throws Exception {
        Result result = null;
        for (int seconds : new int[] {WARMUP_SECONDS, SECONDS}) {
            List<String> cmd = new ArrayList<>(List.of(WRK, "-t", "2", "-c", String.valueOf(CLIENTS), "-d", seconds + "s",
                    "--timeout", "5s", "-s", "bin/wrk-reads.lua", "http://127.0.0.1:" + port, "--", String.valueOf(KEYS), level));
            cmd.addAll(List.of(tokens));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("wrk failed: " + out);
            }
            Matcher m = WRK_RESULT.matcher(out);
            if (!m.find()) {
                throw new IllegalStateException("no result line in wrk's output: " + out);
            }
            result = new Result(name, Long.parseLong(m.group(1)) / Double.parseDouble(m.group(2)), Long.parseLong(m.group(3)) / 1000.0,
                    Long.parseLong(m.group(4)) / 1000.0, Long.parseLong(m.group(5)) / 1000.0, Long.parseLong(m.group(6)));
        }
        System.out.println(result);
        return result;
    }

    private static double addedMeanMs(String metrics) {
        double sum = 0;
        double count = 0;
        for (String line : metrics.split("\n")) {
            if (line.startsWith("tandem_router_added_latency_seconds_sum")) {
                sum = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            } else if (line.startsWith("tandem_router_added_latency_seconds_count")) {
                count = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return count == 0 ? Double.NaN : sum / count * 1000;
    }

    private static void awaitLeader(java.net.http.HttpClient http, ServiceProcess router) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            String body = http.send(HttpRequest.newBuilder(URI.create(router.httpUrl() + "/v1/cluster")).build(), HttpResponse.BodyHandlers.ofString()).body();
            if (body.contains("\"leader\":\"r1\"")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("router never saw leader r1");
    }

    private static void awaitApplied(TandemCluster cluster, long lsn) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (cluster.info("r2").getAppliedLsn() >= lsn && cluster.info("r3").getAppliedLsn() >= lsn) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("followers did not apply " + lsn);
    }
}
