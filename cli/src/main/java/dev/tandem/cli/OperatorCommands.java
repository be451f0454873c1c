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
                System.err.println("router answered " + r.statusCode() + ": " + r.body());
                return 1;
            }
            JsonNode n = new ObjectMapper().readTree(r.body());
            if (json) {
                System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(n));
                return 0;
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
            return 0;
        }
    }

    @Command(name = "switchover", mixinStandardHelpOptions = true,
            description = "Planned leader change with zero loss: POST /v1/admin/switchover on the controller.")
    static class Switchover implements Callable<Integer> {
        @Option(names = "--to", description = "replica to promote (default: the controller picks the best)")
        String to;
        @Option(names = "--controller", description = "controller URL (default: the local cluster's)")
        String controller;
        @Option(names = "--secret-file", description = "file holding the cluster secret (default: the local cluster's; or env TANDEM_CLUSTER_SECRET)")
        Path secretFile;
        @Option(names = "--dir", description = "local cluster directory")
        Path dir;

        @Override
        public Integer call() throws Exception {
            Optional<ClusterDescription> d = local(dir);
            String url = controller != null ? controller : d.map(x -> x.controller().httpUrl()).orElseThrow(() ->
                    new IllegalStateException("no --controller given and no local cluster: bin/tandem switchover --controller http://HOST:PORT --secret-file FILE"));
            String secret = secretFile != null ? Files.readString(secretFile).trim()
                    : System.getenv("TANDEM_CLUSTER_SECRET") != null ? System.getenv("TANDEM_CLUSTER_SECRET")
                    : d.map(ClusterDescription::secret).orElseThrow(() ->
                            new IllegalStateException("no cluster secret: --secret-file FILE or env TANDEM_CLUSTER_SECRET"));
            String target = url + "/v1/admin/switchover" + (to == null ? "" : "?to=" + URLEncoder.encode(to, StandardCharsets.UTF_8));
            System.out.println("asking " + url + " to switch over" + (to == null ? " to the best replica" : " to " + to) + " ...");
            long start = System.nanoTime();
            HttpResponse<String> r;
            try {
                r = HTTP.send(HttpRequest.newBuilder(URI.create(target)).timeout(Duration.ofSeconds(60))
                        .header("Tandem-Cluster-Secret", secret).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot reach the controller at " + url + " (" + e.getClass().getSimpleName() + ")");
            }
            System.out.printf("%d after %.0f ms%n%s%n", r.statusCode(), (System.nanoTime() - start) / 1e6, r.body());
            return r.statusCode() / 100 == 2 ? 0 : 1;
        }
    }
}
