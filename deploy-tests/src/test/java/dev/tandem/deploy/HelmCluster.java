package dev.tandem.deploy;

import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;

/**
 * A fabric8 mock API server in CRUD mode that the embedded Helm talks to.
 *
 * <p>helm-java's {@code template} evaluates {@code lookup} against the cluster named by
 * KUBECONFIG (real {@code helm template} would return nothing). Rather than let rendering
 * fail, tests run it against this server: an empty namespace behaves like a first install, and
 * a Secret created here behaves like the live Secret an upgrade finds.
 */
final class HelmCluster {

    private static KubernetesMockServer server;
    private static KubernetesClient client;

    private HelmCluster() {}

    static synchronized KubernetesClient client() {
        if (server == null) {
            start();
        }
        return client;
    }

    private static void start() {
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        server = new KubernetesMockServer(new Context(), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        // Discovery for the core group, which Helm's lookup asks before reading a Secret.
        // client-go adds ?timeout=32s, and expectations match the whole path with the query.
        for (String path : new String[] {"/api/v1", "/api/v1?timeout=32s"}) {
            server.expect().get().withPath(path).andReturn(200, new APIResourceListBuilder()
                    .withGroupVersion("v1")
                    .addToResources(new APIResourceBuilder().withName("secrets").withKind("Secret")
                            .withNamespaced(true).withVerbs("get", "list", "create", "update", "delete").build())
                    .build()).always();
        }
        client = server.createClient();
        String kubeconfig = """
                apiVersion: v1
                kind: Config
                clusters:
                  - name: mock
                    cluster:
                      server: http://127.0.0.1:%d
                contexts:
                  - name: mock
                    context:
                      cluster: mock
                      user: mock
                current-context: mock
                users:
                  - name: mock
                    user:
                      token: mock
                """.formatted(server.getPort());
        String path = System.getProperty("tandem.helm.kubeconfig");
        if (path == null || path.isBlank()) {
            throw new IllegalStateException("tandem.helm.kubeconfig is not set: run the tests through Maven (deploy-tests/pom.xml)");
        }
        try {
            Files.createDirectories(Path.of(path).getParent());
            Files.writeString(Path.of(path), kubeconfig);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.destroy()));
    }
}
