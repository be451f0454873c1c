package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tandem.process.FreePorts;
import dev.tandem.process.ServiceProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.IOException;
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
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real Prometheus scraping a real local cluster (3 replicas, a router, a controller, all
 * fast-jars on loopback): every dashboard query must return data, every alert rule must load
 * and evaluate, and every metric an alert uses must exist.
 *
 * <p>The scenario gives the metrics something to show: writes with every write concern, reads
 * at every consistency level, a leader SIGKILLed (failover), the old leader restarted (rejoin)
 * and a planned switchover.
 *
 * <p>Needs the services packaged ({@code ./mvnw -DskipTests package}) and Debian's
 * {@code prometheus}. Off by default while the services are being written; run with
 * {@code ./mvnw -pl deploy-tests verify -Dtandem.it.prometheus=true}.
 */
@EnabledIfSystemProperty(named = "tandem.it.prometheus", matches = "true",
        disabledReason = "needs the packaged services; run with -Dtandem.it.prometheus=true")
class PrometheusScrapeIT {

    private static final String SECRET = "prometheus-it-cluster-secret";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path WORK = Path.of("target/it/prometheus").toAbsolutePath();

    private static final Map<String, ServiceProcess> REPLICAS = new LinkedHashMap<>();
    private static ServiceProcess router;
    private static ServiceProcess controller;
    private static Process prometheus;
    private static int prometheusPort;

    @BeforeAll
    static void startClusterAndPrometheus() throws Exception {
        Path prometheusBin = Promtool.binary("prometheus");
        deleteRecursively(WORK);
        Files.createDirectories(WORK);
        List<String> list = new ArrayList<>();
        for (String id : List.of("r1", "r2", "r3")) {
            int port = FreePorts.pick();
            ServiceProcess p = new ServiceProcess(ServiceProcess.Spec.of(id, ServiceProcess.moduleJar("replica-service"), port, WORK.resolve(id + ".log"))
                    .withProperty("tandem.replica.id", id)
                    .withProperty("tandem.replica.data-dir", WORK.resolve(id).toString())
                    .withProperty("tandem.cluster.secret", SECRET)
                    .withProperty("java.io.tmpdir", WORK.resolve("tmp").toString()));
            REPLICAS.put(id, p);
            list.add(id + "=127.0.0.1:" + port);
        }
        Files.createDirectories(WORK.resolve("tmp"));
        String replicaList = String.join(",", list);
        REPLICAS.values().forEach(ServiceProcess::start);
        controller = new ServiceProcess(ServiceProcess.Spec.of("controller", ServiceProcess.moduleJar("failover-controller"), FreePorts.pick(), WORK.resolve("controller.log"))
                .withProperty("tandem.controller.replicas", replicaList)
                .withProperty("tandem.controller.state.backend", "file")
                .withProperty("tandem.controller.state.file", WORK.resolve("cluster-state.json").toString())
                .withProperty("tandem.cluster.secret", SECRET)
                .withProperty("java.io.tmpdir", WORK.resolve("tmp").toString())).start();
        router = new ServiceProcess(ServiceProcess.Spec.of("router", ServiceProcess.moduleJar("router-service"), FreePorts.pick(), WORK.resolve("router.log"))
                .withProperty("tandem.router.replicas", replicaList)
                .withProperty("tandem.cluster.secret", SECRET)
                .withProperty("java.io.tmpdir", WORK.resolve("tmp").toString())).start();
        for (ServiceProcess p : all()) {
            p.awaitHttpOk("/q/health/live", Duration.ofSeconds(60));
        }

        prometheusPort = FreePorts.pick();
        Files.copy(RulesFile.plainRules(), WORK.resolve("tandem-rules.yaml"));
        StringBuilder cfg = new StringBuilder("""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - tandem-rules.yaml
                scrape_configs:
                """);
        Map<String, List<ServiceProcess>> jobs = Map.of("replica", List.copyOf(REPLICAS.values()), "router", List.of(router), "controller", List.of(controller));
        jobs.forEach((job, procs) -> {
            cfg.append("  - job_name: ").append(job).append("\n    metrics_path: /q/metrics\n    static_configs:\n      - targets: [");
            cfg.append(String.join(", ", procs.stream().map(p -> "'" + p.address() + "'").toList())).append("]\n");
        });
        Files.writeString(WORK.resolve("prometheus.yml"), cfg);
        prometheus = new ProcessBuilder(prometheusBin.toString(), "--config.file=" + WORK.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + WORK.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + prometheusPort)
                .redirectErrorStream(true).redirectOutput(WORK.resolve("prometheus.log").toFile()).start();
        await("Prometheus ready", Duration.ofSeconds(30), () -> status("http://127.0.0.1:" + prometheusPort + "/-/ready") == 200);

        runScenario();
        // Let rate()/increase() windows (1m in the concrete queries) see several samples after the events.
        Thread.sleep(20_000);
    }

    @AfterAll
    static void stopEverything() {
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
    }

    @Test
    void everyDashboardQueryReturnsData() throws Exception {
        List<String> empty = new ArrayList<>();
        for (Dashboard.Query q : Dashboard.queries()) {
            JsonNode r = query(Dashboard.concrete(q.expr()));
            if (r.path("data").path("result").isEmpty()) {
                empty.add(q.panel() + ": " + q.expr());
            }
        }
        assertEquals(List.of(), empty, "dashboard queries with no data (logs in " + WORK + ")");
    }

    @Test
    void everyAlertRuleLoadsAndEveryMetricItUsesExists() throws Exception {
        JsonNode rules = get("/api/v1/rules");
        List<String> problems = new ArrayList<>();
        int loaded = 0;
        for (JsonNode g : rules.path("data").path("groups")) {
            for (JsonNode r : g.path("rules")) {
                loaded++;
                if (!"ok".equals(r.path("health").asText())) {
                    problems.add(r.path("name").asText() + " health " + r.path("health").asText() + ": " + r.path("lastError").asText());
                }
            }
        }
        assertEquals(RulesFile.alertNames().size(), loaded, "rules loaded by Prometheus");
        for (JsonNode rule : RulesFile.rules()) {
            for (String metric : Dashboard.metrics(rule.get("expr").asText())) {
                if (query("count({__name__=\"" + metric + "\"})").path("data").path("result").isEmpty()) {
                    problems.add(rule.get("alert").asText() + " uses " + metric + ", which no process exports");
                }
            }
        }
        assertTrue(query("up{job=\"replica\"}").path("data").path("result").size() == 3, "3 replica targets");
        assertEquals(List.of(), problems);
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
        REPLICAS.get(leader).start().awaitHttpOk("/q/health/live", Duration.ofSeconds(60));
        for (int i = 0; i < 5; i++) {
            send("PUT", "/v1/kv/it-after-" + i, "v" + i, Map.of());
        }
        reads();
        // Planned switchover back to the old leader.
        int s = send("POST", controller.httpUrl() + "/v1/admin/switchover?to=" + leader, "", Map.of("Tandem-Cluster-Secret", SECRET));
        assertTrue(s >= 200 && s < 300, "switchover answered " + s + "; controller log:\n" + controller.logTail(30));
        System.out.println("scenario: failover " + leader + " -> " + next + ", switchover back to " + leader);
    }

    private static void reads() throws Exception {
        for (String consistency : List.of("strong", "session", "eventual", "bounded")) {
            for (int i = 0; i < 5; i++) {
                send("GET", "/v1/kv/it-one-" + i, null, Map.of("Tandem-Consistency", consistency));
            }
        }
    }

    /** The replica whose metrics say it leads (and is not {@code not}). */
    private static String awaitLeader(String not) {
        // Generous: on two busy cores the first probes of freshly started JVMs can time out.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
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
        return fail("no leader (other than " + not + ") within 60 s; replicas report:\n" + seen + "controller log:\n" + controller.logTail(20));
    }

    private static String metricsOf(ServiceProcess p) {
        try {
            return "\n" + HTTP.send(HttpRequest.newBuilder(URI.create(p.httpUrl() + "/q/metrics")).timeout(Duration.ofSeconds(2)).build(),
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
        assertEquals("success", r.path("status").asText(), promql + " -> " + r);
        return r;
    }

    private static JsonNode get(String path) throws Exception {
        return JSON.readTree(HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }

    private static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }

    private static void await(String what, Duration timeout, java.util.function.BooleanSupplier ok) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (ok.getAsBoolean()) {
                return;
            }
            sleep(200);
        }
        fail(what + " not reached within " + timeout);
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
