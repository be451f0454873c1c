package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tandem.process.FreePorts;
import dev.tandem.process.ServiceProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Prometheus scraping a real local cluster (3 replicas, a router, a controller, all
 * fast-jars on loopback, scraped every second with the shipped alert rules loaded): every
 * dashboard query must return a number, every alert rule must load and evaluate without error,
 * every metric an alert uses must exist and every operand of every alert (the expression
 * without its threshold, see {@link AlertExpr}) must return data.
 *
 * <p>The scenario gives the metrics something to show: the controller starts before a majority
 * of replicas (a blocked decision: bootstrap waits for a majority), writes with every write
 * concern, reads at every consistency level, a leader SIGKILLed (failover), the old leader
 * restarted (rejoin) and a planned switchover; light traffic then continues while the checks
 * poll, so rate() and histogram_quantile() panels have samples.
 *
 * <p>Part of {@code ./mvnw verify}: the reactor packages the three services first (this
 * module depends on them). Skipped, with a message, when no {@code prometheus} binary is found
 * (Debian package {@code prometheus}, installed by bin/install-test-deps);
 * {@code -Dtandem.it.prometheus=false} leaves it out. Alone:
 * {@code ./mvnw -pl deploy-tests verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=PrometheusScrapeIT}
 * (after {@code ./mvnw install -DskipTests} once). Logs and the Prometheus config stay in
 * deploy-tests/target/it/prometheus/run-PID.
 */
@DisabledIfSystemProperty(named = "tandem.it.prometheus", matches = "false",
        disabledReason = "left out with -Dtandem.it.prometheus=false")
class PrometheusScrapeIT {

    private static final String SECRET = "prometheus-it-cluster-secret";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    /** One directory per test JVM: others may run this test in the same checkout at the same time. */
    private static final Path RUNS = Path.of("target/it/prometheus").toAbsolutePath();
    private static final Path WORK = RUNS.resolve("run-" + ProcessHandle.current().pid());
    private static final List<String> MODULES = List.of("replica-service", "router-service", "failover-controller");

    /** Generous: five JVMs starting on two busy cores can take half a minute each. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    /** How long the checks poll for data before they fail (rule groups evaluate every 15 s). */
    private static final Duration DATA_TIMEOUT = Duration.ofSeconds(90);

    private static final Map<String, ServiceProcess> REPLICAS = new LinkedHashMap<>();
    private static ServiceProcess router;
    private static ServiceProcess controller;
    private static Process prometheus;
    private static int prometheusPort;
    private static Thread traffic;
    private static volatile boolean stopTraffic;
    private static long startedNanos;

    private static final Optional<Path> PROMETHEUS = Promtool.find("prometheus");
    private static final String NO_PROMETHEUS = "PrometheusScrapeIT skipped: no `prometheus` binary on PATH, in /usr/bin or "
            + "/usr/local/bin. It comes from the Debian package `prometheus`: run bin/install-test-deps (CI does).";

    @BeforeAll
    static void startClusterAndPrometheus() throws Exception {
        if (PROMETHEUS.isEmpty()) {
            System.out.println(NO_PROMETHEUS);
            return; // each test is then skipped by the assumption in requirePrometheus()
        }
        startedNanos = System.nanoTime();
        deleteFinishedRuns();
        Files.createDirectories(WORK.resolve("tmp"));
        Map<String, Path> jars = snapshotFastJars();

        List<String> list = new ArrayList<>();
        for (String id : List.of("r1", "r2", "r3")) {
            int port = FreePorts.pick();
            REPLICAS.put(id, new ServiceProcess(spec(id, jars.get("replica-service"), port)
                    .withProperty("tandem.replica.id", id)
                    .withProperty("tandem.replica.data-dir", WORK.resolve(id).toString())));
            list.add(id + "=127.0.0.1:" + port);
        }
        String replicaList = String.join(",", list);
        controller = new ServiceProcess(spec("controller", jars.get("failover-controller"), FreePorts.pick())
                .withProperty("tandem.controller.replicas", replicaList)
                .withProperty("tandem.controller.state.backend", "file")
                .withProperty("tandem.controller.state.file", WORK.resolve("cluster-state.json").toString()));
        router = new ServiceProcess(spec("router", jars.get("router-service"), FreePorts.pick())
                .withProperty("tandem.router.replicas", replicaList));

        startPrometheus(PROMETHEUS.get());

        // The controller starts with one replica of three: bootstrap must wait for a majority,
        // which counts tandem_controller_blocked_decisions_total{reason="bootstrap_waiting_for_majority"}
        // (the "Blocked failover decisions" panel and TandemFailoverBlocked need that series).
        REPLICAS.get("r1").start();
        controller.start();
        router.start();
        controller.awaitHttpOk("/q/health/live", START_TIMEOUT);
        await("the controller to report a blocked decision (bootstrap waiting for a majority)", START_TIMEOUT,
                () -> metricsOf(controller).contains("\ntandem_controller_blocked_decisions_total{"),
                () -> "controller log:\n" + controller.logTail(20));
        REPLICAS.get("r2").start();
        REPLICAS.get("r3").start();
        for (ServiceProcess p : all()) {
            p.awaitHttpOk("/q/health/live", START_TIMEOUT);
        }
        await("Prometheus ready", START_TIMEOUT, () -> status("http://127.0.0.1:" + prometheusPort + "/-/ready") == 200,
                PrometheusScrapeIT::prometheusLogTail);
        log("cluster and Prometheus up");

        runScenario();
        log("scenario done");
        traffic = new Thread(PrometheusScrapeIT::backgroundTraffic, "prometheus-it-traffic");
        traffic.setDaemon(true);
        traffic.start();
    }

    /** An assumption per test, so that a missing binary shows as skipped tests with the reason. */
    @BeforeEach
    void requirePrometheus() {
        assumeTrue(PROMETHEUS.isPresent(), NO_PROMETHEUS);
    }

    @AfterAll
    static void stopEverything() {
        stopTraffic = true;
        if (traffic != null) {
            try {
                traffic.join(15_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (prometheus != null) {
            prometheus.destroy();
            try {
                if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (ServiceProcess p : all()) {
            if (p != null) {
                p.stop();
            }
        }
        if (startedNanos != 0) {
            log("stopped");
        }
    }

    @Test
    void everyDashboardQueryReturnsData() throws Exception {
        List<Dashboard.Query> queries = Dashboard.queries();
        List<String> problems = poll(() -> {
            List<String> out = new ArrayList<>();
            for (Dashboard.Query q : queries) {
                String expr = Dashboard.concrete(q.expr());
                String why = noData(query(expr));
                if (why != null) {
                    out.add("panel \"" + q.panel() + "\": " + why + ": " + expr);
                }
            }
            return out;
        });
        log("dashboard: " + queries.size() + " queries checked");
        if (!problems.isEmpty()) {
            fail(failureMessage(problems.size() + " of " + queries.size() + " dashboard queries return no data", problems));
        }
    }

    @Test
    void everyAlertRuleLoadsAndEvaluatesAndItsOperandsReturnData() throws Exception {
        int alerts = RulesFile.alertNames().size();
        List<String> problems = poll(() -> {
            List<String> out = new ArrayList<>();
            int loaded = 0;
            for (JsonNode g : get("/api/v1/rules").path("data").path("groups")) {
                for (JsonNode r : g.path("rules")) {
                    loaded++;
                    String health = r.path("health").asText();
                    if (!"ok".equals(health)) {
                        out.add("rule " + r.path("name").asText() + ": health " + health
                                + ("unknown".equals(health) ? " (not evaluated yet)" : ": " + r.path("lastError").asText()));
                    }
                }
            }
            if (loaded != alerts) {
                out.add("Prometheus loaded " + loaded + " rules, the rules file has " + alerts + " alerts");
            }
            for (JsonNode rule : RulesFile.rules()) {
                String alert = rule.get("alert").asText();
                String expr = rule.get("expr").asText();
                for (String metric : Dashboard.metrics(expr)) {
                    if (query("count({__name__=\"" + metric + "\"})").path("data").path("result").isEmpty()) {
                        out.add("alert " + alert + ": uses " + metric + ", which no process exports");
                    }
                }
                for (String operand : AlertExpr.operands(expr)) {
                    String why = noData(query(operand));
                    if (why != null) {
                        out.add("alert " + alert + ": " + why + ": " + operand);
                    }
                }
            }
            int replicaTargets = query("up{job=\"replica\"} == 1").path("data").path("result").size();
            if (replicaTargets != 3) {
                out.add(replicaTargets + " of 3 replica targets up");
            }
            return out;
        });
        log("alerts: " + alerts + " rules checked");
        if (!problems.isEmpty()) {
            fail(failureMessage(problems.size() + " problems with the alert rules", problems));
        }
    }

    // ---- checks -----------------------------------------------------------------------------

    /** Null when the query result holds at least one finite sample, else why not. */
    private static String noData(JsonNode response) {
        JsonNode result = response.path("data").path("result");
        if (result.isEmpty()) {
            return "no series";
        }
        for (JsonNode series : result) {
            JsonNode value = series.has("value") ? series.path("value").path(1) : series.path("values").path(0).path(1);
            try {
                if (Double.isFinite(Double.parseDouble(value.asText()))) {
                    return null;
                }
            } catch (NumberFormatException e) {
                // keep looking
            }
        }
        return "only NaN/Inf values";
    }

    /** Runs {@code check} every second until it reports nothing or {@link #DATA_TIMEOUT} passes; the last report. */
    private static List<String> poll(Callable<List<String>> check) throws Exception {
        long deadline = System.nanoTime() + DATA_TIMEOUT.toNanos();
        List<String> problems = check.call();
        while (!problems.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1000);
            problems = check.call();
        }
        return problems;
    }

    private static String failureMessage(String what, List<String> problems) {
        StringBuilder b = new StringBuilder(what).append(" after polling for ").append(DATA_TIMEOUT.toSeconds())
                .append(" s (logs, prometheus.yml and TSDB in ").append(WORK).append("):\n");
        problems.forEach(p -> b.append("  ").append(p).append('\n'));
        b.append("Scrape targets:\n");
        try {
            for (JsonNode t : get("/api/v1/targets").path("data").path("activeTargets")) {
                b.append("  ").append(t.path("labels").path("job").asText()).append(' ').append(t.path("labels").path("instance").asText())
                        .append(' ').append(t.path("health").asText());
                if (!t.path("lastError").asText().isEmpty()) {
                    b.append(": ").append(t.path("lastError").asText());
                }
                b.append('\n');
            }
        } catch (Exception e) {
            b.append("  (cannot list targets: ").append(e).append(")\n");
        }
        return b.toString();
    }

    // ---- cluster and Prometheus -------------------------------------------------------------

    /** C1 only (-XX:TieredStopAtLevel=1): five JVMs start faster and leave CPU to each other. */
    private static ServiceProcess.Spec spec(String name, Path jar, int port) {
        ServiceProcess.Spec s = ServiceProcess.Spec.of(name, jar, port, WORK.resolve(name + ".log"));
        List<String> jvm = new ArrayList<>(s.jvmArgs());
        jvm.add("-XX:TieredStopAtLevel=1");
        return new ServiceProcess.Spec(s.name(), s.jar(), s.port(), s.properties(), s.env(), s.logFile(), jvm)
                .withProperty("tandem.cluster.secret", SECRET)
                .withProperty("java.io.tmpdir", WORK.resolve("tmp").toString());
    }

    /**
     * The three fast-jars hard-linked into the run directory (apps/): other builds may re-package
     * a service while this test runs, and links keep the files of the moment they were made.
     */
    private static Map<String, Path> snapshotFastJars() throws IOException {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String module : MODULES) {
            Path jar = ServiceProcess.moduleJar(module);
            if (!Files.isRegularFile(jar)) {
                fail(jar + " is missing. The reactor packages " + module + " before deploy-tests; when running this module "
                        + "alone, package the services first: ./mvnw -B install -DskipTests");
            }
            out.put(module, ServiceProcess.snapshotFastJar(jar, WORK.resolve("apps").resolve(module)));
        }
        return out;
    }

    private static void startPrometheus(Path bin) throws IOException {
        prometheusPort = FreePorts.pick();
        Files.copy(RulesFile.plainRules(), WORK.resolve("tandem-rules.yaml"));
        StringBuilder cfg = new StringBuilder("""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                rule_files:
                  - tandem-rules.yaml
                scrape_configs:
                """);
        Map<String, List<ServiceProcess>> jobs = new LinkedHashMap<>();
        jobs.put("replica", List.copyOf(REPLICAS.values()));
        jobs.put("router", List.of(router));
        jobs.put("controller", List.of(controller));
        jobs.forEach((job, procs) -> {
            cfg.append("  - job_name: ").append(job).append("\n    metrics_path: /q/metrics\n    static_configs:\n      - targets: [");
            cfg.append(String.join(", ", procs.stream().map(p -> "'" + p.address() + "'").toList())).append("]\n");
        });
        Files.writeString(WORK.resolve("prometheus.yml"), cfg);
        prometheus = new ProcessBuilder(bin.toString(), "--config.file=" + WORK.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + WORK.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + prometheusPort)
                .redirectErrorStream(true).redirectOutput(WORK.resolve("prometheus.log").toFile()).start();
    }

    // ---- scenario ---------------------------------------------------------------------------

    private static void runScenario() throws Exception {
        String leader = awaitLeader(null);
        for (String concern : List.of("leader", "one", "majority", "all")) {
            for (int i = 0; i < 5; i++) {
                send("PUT", "/v1/kv/it-" + concern + "-" + i, "v" + i, Map.of("Tandem-Write-Concern", concern));
            }
        }
        reads();
        // Failover: SIGKILL the leader, wait for another, bring the old one back to rejoin.
        REPLICAS.get(leader).kill();
        String next = awaitLeader(leader);
        REPLICAS.get(leader).start().awaitHttpOk("/q/health/live", START_TIMEOUT);
        for (int i = 0; i < 5; i++) {
            send("PUT", "/v1/kv/it-after-" + i, "v" + i, Map.of());
        }
        reads();
        // Planned switchover back to the old leader (retried while it is still catching up).
        String url = controller.httpUrl() + "/v1/admin/switchover?to=" + leader;
        int[] last = {-1};
        await("a switchover to " + leader + " to be accepted", START_TIMEOUT, () -> {
            try {
                last[0] = send("POST", url, "", Map.of("Tandem-Cluster-Secret", SECRET));
            } catch (Exception e) {
                last[0] = -1;
            }
            return last[0] >= 200 && last[0] < 300;
        }, () -> "last answer " + last[0] + "; controller log:\n" + controller.logTail(30));
        log("scenario: failover " + leader + " -> " + next + ", switchover back to " + leader);
    }

    private static void reads() throws Exception {
        for (String consistency : List.of("strong", "session", "eventual", "bounded")) {
            for (int i = 0; i < 5; i++) {
                send("GET", "/v1/kv/it-one-" + i, null, Map.of("Tandem-Consistency", consistency));
            }
        }
    }

    /** A write and a read every 200 ms, rotating write concerns and consistency levels, until stopped. */
    private static void backgroundTraffic() {
        List<String> concerns = List.of("leader", "one", "majority", "all");
        List<String> levels = List.of("strong", "session", "eventual", "bounded");
        for (int i = 0; !stopTraffic; i++) {
            try {
                send("PUT", "/v1/kv/it-bg-" + (i % 20), "v" + i, Map.of("Tandem-Write-Concern", concerns.get(i % 4)));
                send("GET", "/v1/kv/it-bg-" + (i % 20), null, Map.of("Tandem-Consistency", levels.get(i % 4)));
            } catch (Exception e) {
                // a slow answer; the checks report what is missing
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** The replica whose metrics say it leads (and is not {@code not}). */
    private static String awaitLeader(String not) {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            for (Map.Entry<String, ServiceProcess> e : REPLICAS.entrySet()) {
                if (!e.getKey().equals(not) && e.getValue().isAlive() && metricsOf(e.getValue()).contains("\ntandem_replica_is_leader 1")) {
                    return e.getKey();
                }
            }
            sleep(200);
        }
        StringBuilder seen = new StringBuilder();
        REPLICAS.forEach((id, p) -> metricsOf(p).lines().filter(l -> l.startsWith("tandem_replica_is_leader") || l.startsWith("tandem_replica_role"))
                .forEach(l -> seen.append(id).append(": ").append(l).append('\n')));
        return fail("no leader (other than " + not + ") within " + START_TIMEOUT.toSeconds() + " s; replicas report:\n" + seen
                + "controller log:\n" + controller.logTail(20));
    }

    private static String metricsOf(ServiceProcess p) {
        try {
            return "\n" + HTTP.send(HttpRequest.newBuilder(URI.create(p.httpUrl() + "/q/metrics")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString()).body().replaceAll("(?m)^(tandem_replica_is_leader)(\\{[^}]*\\})? 1\\.0$", "$1 1");
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static int send(String method, String pathOrUrl, String body, Map<String, String> headers) throws Exception {
        String url = pathOrUrl.startsWith("http") ? pathOrUrl : router.httpUrl() + pathOrUrl;
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(b::header);
        if (body != null) {
            b.header("Content-Type", "application/octet-stream");
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static JsonNode query(String promql) throws Exception {
        JsonNode r = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        assertEquals("success", r.path("status").asText(), "query failed: " + promql + " -> " + r);
        return r;
    }

    private static JsonNode get(String path) throws Exception {
        return JSON.readTree(HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    private static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }

    private static void await(String what, Duration timeout, java.util.function.BooleanSupplier ok, java.util.function.Supplier<String> detail) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (ok.getAsBoolean()) {
                return;
            }
            sleep(200);
        }
        fail("waited " + timeout.toSeconds() + " s for " + what + " in vain (logs in " + WORK + "); " + detail.get());
    }

    private static String prometheusLogTail() {
        try {
            List<String> lines = Files.readAllLines(WORK.resolve("prometheus.log"));
            return "prometheus.log:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void log(String what) {
        System.out.printf("PrometheusScrapeIT +%.1f s: %s%n", (System.nanoTime() - startedNanos) / 1e9, what);
    }

    private static List<ServiceProcess> all() {
        List<ServiceProcess> out = new ArrayList<>(REPLICAS.values());
        out.add(router);
        out.add(controller);
        return out;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Removes the directories of earlier runs whose JVM is gone (the latest ones stay for reading until the next run). */
    private static void deleteFinishedRuns() throws IOException {
        if (!Files.isDirectory(RUNS)) {
            return;
        }
        try (var runs = Files.list(RUNS)) {
            for (Path run : runs.toList()) {
                String name = run.getFileName().toString();
                boolean alive = name.matches("run-\\d+") && ProcessHandle.of(Long.parseLong(name.substring(4))).map(ProcessHandle::isAlive).orElse(false);
                if (!alive) {
                    deleteRecursively(run);
                }
            }
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
