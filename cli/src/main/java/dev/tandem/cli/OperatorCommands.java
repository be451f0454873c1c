package dev.tandem.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tandem.cli.local.ClusterDescription;
import dev.tandem.cli.local.DescriptionStore;
import dev.tandem.cli.local.Repo;
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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Commands that work against any deployment: a router or controller URL, or the local cluster by default. */
final class OperatorCommands {

    private OperatorCommands() {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    static Optional<ClusterDescription> local(Path dir) {
        return new DescriptionStore(dir != null ? dir : Repo.defaultClusterDir()).read();
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "The cluster as a router sees it (GET /v1/cluster): leader, epoch, replicas with role, positions and lag.")
    static class Status implements Callable<Integer> {
        @Option(names = "--router", description = "router URL (default: the local cluster's)")
        String router;
        @Option(names = "--dir", description = "local cluster directory, when --router is not given")
        Path dir;
        @Option(names = "--json", description = "print the router's JSON as is")
        boolean json;

        @Override
        public Integer call() throws Exception {
            String url = router != null ? router : local(dir).map(d -> d.router().httpUrl()).orElseThrow(() ->
                    new IllegalStateException("no --router given and no local cluster: bin/tandem status --router http://HOST:PORT"));
            HttpResponse<String> r;
            try {
                r = HTTP.send(HttpRequest.newBuilder(URI.create(url + "/v1/cluster")).timeout(Duration.ofSeconds(5)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot reach the router at " + url + " (" + e.getClass().getSimpleName()
                        + "): is it running? bin/tandem local status shows the local cluster's processes");
            }
            if (r.statusCode() != 200) {
                throw new IllegalStateException(url + "/v1/cluster answered " + r.statusCode()
                        + ": is --router the URL of a Tandem router? (" + abbreviate(r.body()) + ")");
            }
            JsonNode n = new ObjectMapper().readTree(r.body());
            List<String> problems = problems(n);
            if (json) {
                System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(n));
                return problems.isEmpty() ? 0 : 1;
            }
            System.out.println("router " + url);
            n.fields().forEachRemaining(f -> {
                if (!f.getValue().isContainerNode()) {
                    System.out.println("  " + f.getKey() + ": " + f.getValue().asText());
                }
            });
            JsonNode replicas = n.path("replicas");
            if (replicas.isArray()) {
                for (JsonNode rep : replicas) {
                    StringBuilder sb = new StringBuilder("  -");
                    rep.fields().forEachRemaining(f -> sb.append(' ').append(f.getKey()).append('=').append(
                            f.getValue().isContainerNode() ? f.getValue().toString() : f.getValue().asText()));
                    System.out.println(sb);
                }
            } else if (replicas.isObject()) {
                replicas.fields().forEachRemaining(f -> System.out.println("  - " + f.getKey() + " " + f.getValue()));
            }
            problems.forEach(p -> System.out.println("unhealthy: " + p));
            return problems.isEmpty() ? 0 : 1;
        }

        /** What makes the cluster unhealthy, as the router sees it: no leader, or a replica it cannot reach. */
        static List<String> problems(JsonNode cluster) {
            List<String> problems = new ArrayList<>();
            if (cluster.path("leader").isNull() || cluster.path("leader").asText().isEmpty()) {
                problems.add("no leader: writes are refused (503) until the controller promotes one");
            }
            for (JsonNode rep : cluster.path("replicas")) {
                if (!rep.path("healthy").asBoolean(true)) {
                    problems.add("replica " + rep.path("id").asText() + " is not answering the router"
                            + (rep.hasNonNull("error") ? " (" + rep.path("error").asText() + ")" : ""));
                }
            }
            return problems;
        }

        private static String abbreviate(String body) {
            String oneLine = body.replaceAll("\\s+", " ").trim();
            return oneLine.length() <= 120 ? oneLine : oneLine.substring(0, 120) + "...";
        }
    }

    @Command(name = "switchover", mixinStandardHelpOptions = true, sortOptions = false,
            description = {
                "Planned leader change with zero loss of acknowledged writes: asks the failover controller "
                        + "(POST /v1/admin/switchover) to stop writes on the leader, wait until the target has every "
                        + "entry the leader wrote, promote the target in a new epoch and point the other replicas at it.",
                "Writes pause for the duration (typically well under a second). If the target does not catch up within "
                        + "tandem.controller.switchover-catch-up-timeout-ms, the old leader leads again (in a new epoch) and "
                        + "nothing is lost.",
                "",
                "Exit status: 0 switched over; 1 refused or fell back (the controller's reason is printed; a refusal "
                        + "changes nothing); 2 usage or connection error."},
            footer = {"", "Examples:",
                "  bin/tandem switchover --to r2     # local cluster (.tandem/), to r2",
                "  bin/tandem switchover             # to the most advanced follower",
                "  bin/tandem switchover --to tandem-replica-1 \\",
                "      --controller http://tandem-controller:8080 \\",
                "      --secret-file /etc/tandem/secret"})
    static class Switchover implements Callable<Integer> {
        @Option(names = "--to", paramLabel = "REPLICA",
                description = "replica id to promote; it must be following the leader (default: the most advanced follower)")
        String to;
        @Option(names = "--controller", paramLabel = "URL", description = "controller URL (default: the local cluster's)")
        String controller;
        @Option(names = "--secret-file", paramLabel = "FILE",
                description = "file holding the cluster secret (default: env TANDEM_CLUSTER_SECRET, else the local cluster's)")
        Path secretFile;
        @Option(names = "--dir", paramLabel = "DIR", description = "local cluster directory, when --controller is not given (default: .tandem/)")
        Path dir;
        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "how long to wait for the controller's answer (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;
        @Option(names = "--json", description = "print the controller's JSON answer as is")
        boolean json;

        @Override
        public Integer call() throws Exception {
            if (to != null && to.isBlank()) {
                throw new IllegalArgumentException("--to needs a replica id (leave it out to let the controller choose)");
            }
            if (timeoutSeconds <= 0) {
                throw new IllegalArgumentException("--timeout must be > 0 seconds");
            }
            Optional<ClusterDescription> d = controller == null || secretFile == null ? local(dir) : Optional.empty();
            String url = controller != null ? controller : d.map(x -> x.controller().httpUrl()).orElseThrow(() ->
                    new IllegalStateException("no --controller given and no local cluster"
                            + (dir == null ? "" : " in " + dir) + ": bin/tandem switchover --controller http://HOST:PORT --secret-file FILE"));
            url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
            if (!url.startsWith("http://") && !url.startsWith("https://")) {
                throw new IllegalArgumentException("--controller must be an http:// or https:// URL, got '" + url + "'");
            }
            String secret = secret(d);
            String target = url + "/v1/admin/switchover" + (to == null ? "" : "?to=" + URLEncoder.encode(to.trim(), StandardCharsets.UTF_8));
            if (!json) {
                System.out.println("asking " + url + " to switch over" + (to == null ? " to the most advanced follower" : " to " + to.trim())
                        + " ...");
            }
            long start = System.nanoTime();
            HttpResponse<String> r;
            try {
                r = HTTP.send(HttpRequest.newBuilder(URI.create(target)).timeout(Duration.ofSeconds(timeoutSeconds))
                        .header("Tandem-Cluster-Secret", secret).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (java.net.http.HttpTimeoutException e) {
                throw new IllegalStateException("no answer from the controller at " + url + " within " + timeoutSeconds
                        + " s; the switchover may still be running: check bin/tandem status");
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot reach the controller at " + url + " (" + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "): is it running? bin/tandem local status shows the local cluster's processes");
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            if (json) {
                System.out.println(r.body());
                return r.statusCode() / 100 == 2 ? 0 : 1;
            }
            return report(r.statusCode(), r.body(), ms);
        }

        private String secret(Optional<ClusterDescription> d) {
            if (secretFile != null) {
                try {
                    String s = Files.readString(secretFile).trim();
                    if (s.isEmpty()) {
                        throw new IllegalStateException("--secret-file " + secretFile + " is empty");
                    }
                    return s;
                } catch (java.io.IOException e) {
                    throw new IllegalStateException("cannot read --secret-file " + secretFile + " (" + e.getClass().getSimpleName() + ")");
                }
            }
            String env = System.getenv("TANDEM_CLUSTER_SECRET");
            if (env != null && !env.isBlank()) {
                return env.trim();
            }
            return d.map(ClusterDescription::secret).filter(s -> s != null && !s.isBlank()).orElseThrow(() ->
                    new IllegalStateException("no cluster secret: --secret-file FILE or env TANDEM_CLUSTER_SECRET"));
        }

        /** Prints the controller's answer for a human; 0 when leadership moved. */
        static int report(int status, String body, long ms) {
            JsonNode n;
            try {
                n = new ObjectMapper().readTree(body);
            } catch (java.io.IOException | RuntimeException e) {
                n = null;
            }
            if (n == null || !n.isObject()) {
                System.err.println("tandem: the controller answered " + status + " after " + ms + " ms: " + body);
                return status / 100 == 2 ? 0 : 1;
            }
            JsonNode result = n.has("result") ? n.path("result") : n;
            if (status == 200) {
                System.out.printf("switched over: %s -> %s, epoch %d, in %d ms (%s)%n", result.path("from").asText(),
                        result.path("to").asText(), result.path("epoch").asLong(), ms, result.path("failoverId").asText());
                String ranked = result.path("candidates").asText("");
                if (!ranked.isEmpty()) {
                    System.out.println("  followers ranked (most advanced first): " + ranked);
                }
                return 0;
            }
            String title = n.path("title").asText("HTTP " + status);
            String detail = n.path("detail").asText(n.path("message").asText(body));
            System.err.printf("tandem: %s (%d): %s%n", title, status, detail);
            if (status == 401 || status == 403) {
                System.err.println("  the secret must be the cluster's (the controller's tandem.cluster.secret): --secret-file FILE or env TANDEM_CLUSTER_SECRET");
                return 2; // a usage error: the controller never looked at the request
            } else if (status == 503) {
                System.err.println("  this controller is a standby; use the active one (the holder of the controller Lease)");
            } else if (status >= 500) {
                System.err.println("  the controller keeps working on it by itself; check bin/tandem status");
            }
            return 1;
        }
    }
}
