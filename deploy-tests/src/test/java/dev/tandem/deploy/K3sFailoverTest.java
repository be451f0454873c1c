package dev.tandem.deploy;

import com.github.dockerjava.api.DockerClient;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end on a real Kubernetes (K3s in a container): build the three images from
 * deploy/docker, install the chart, wait for a leader, delete the leader pod, and check that the
 * controller promotes another replica and moves the -rw Service to it.
 *
 * <p>Needs a Docker engine and the services packaged ({@code ./mvnw -DskipTests package}).
 * Skipped where there is no Docker engine, which includes the project's build machines.
 */
@Testcontainers(disabledWithoutDocker = true)
class K3sFailoverTest {

    private static final String NS = "tandem";
    private static final String TAG = "e2e";
    private static final List<String> SERVICES = List.of("replica-service", "router-service", "failover-controller");

    @Container
    static final K3sContainer K3S = new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.4-k3s1"));

    @Test
    void deletingTheLeaderPodPromotesAnotherReplicaAndMovesTheReadWriteService() throws Exception {
        for (String service : SERVICES) {
            loadImage(service);
        }
        Path kubeconfig = Files.createDirectories(Path.of("target/k3s")).resolve("kubeconfig.yaml");
        Files.writeString(kubeconfig, K3S.getKubeConfigYaml());
        new Helm(Chart.chartDir()).install().withName("tandem").withNamespace(NS).createNamespace()
                .withKubeConfig(kubeconfig)
                .set("image.registry", "tandem.local").set("image.tag", TAG).set("image.pullPolicy", "Never")
                .set("replica.persistence.size", "1Gi")
                .set("replica.resources.requests.cpu", "100m").set("router.resources.requests.cpu", "100m")
                .waitReady().withTimeout(600).call();

        try (KubernetesClient k8s = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(K3S.getKubeConfigYaml())).build()) {
            String leader = await("a replica labelled leader").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500))
                    .until(() -> leaderPod(k8s), l -> l != null);
            assertEquals(List.of(leader), endpointsOf(k8s, "tandem-rw"), "-rw must point at the leader");

            long killedAt = System.nanoTime();
            k8s.pods().inNamespace(NS).withName(leader).withGracePeriod(0).delete();

            String newLeader = await("a different replica labelled leader").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> leaderPod(k8s), l -> l != null && !l.equals(leader));
            long failoverMs = (System.nanoTime() - killedAt) / 1_000_000;
            assertNotEquals(leader, newLeader);
            await("-rw follows the new leader").atMost(Duration.ofSeconds(30))
                    .until(() -> endpointsOf(k8s, "tandem-rw"), eps -> eps.equals(List.of(newLeader)));
            // The old pod comes back (same PVC) and must rejoin as a follower, not as a second leader.
            await("old leader rejoins as follower").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> role(k8s, leader), "follower"::equals);
            assertEquals(1, k8s.pods().inNamespace(NS).withLabel("tandem.dev/role", "leader").list().getItems().size());
            System.out.println("K3s failover: " + leader + " -> " + newLeader + " labelled in " + failoverMs + " ms");
        }
    }

    private static String leaderPod(KubernetesClient k8s) {
        List<Pod> pods = k8s.pods().inNamespace(NS).withLabel("app.kubernetes.io/component", "replica")
                .withLabel("tandem.dev/role", "leader").list().getItems();
        assertTrue(pods.size() <= 1, "two pods labelled leader: " + pods.stream().map(p -> p.getMetadata().getName()).toList());
        return pods.isEmpty() || pods.get(0).getMetadata().getDeletionTimestamp() != null ? null : pods.get(0).getMetadata().getName();
    }

    private static String role(KubernetesClient k8s, String pod) {
        Pod p = k8s.pods().inNamespace(NS).withName(pod).get();
        return p == null ? null : p.getMetadata().getLabels().get("tandem.dev/role");
    }

    private static List<String> endpointsOf(KubernetesClient k8s, String service) {
        var eps = k8s.endpoints().inNamespace(NS).withName(service).get();
        if (eps == null || eps.getSubsets() == null) {
            return List.of();
        }
        return eps.getSubsets().stream().flatMap(s -> s.getAddresses() == null ? java.util.stream.Stream.empty() : s.getAddresses().stream())
                .map(a -> a.getTargetRef().getName()).sorted().toList();
    }

    /** Builds deploy/docker/<service>/Dockerfile on the host engine and imports it into K3s' containerd. */
    private static void loadImage(String service) throws Exception {
        Path module = Chart.repoRoot().resolve(service);
        assertTrue(Files.isRegularFile(module.resolve("target/quarkus-app/quarkus-run.jar")),
                service + " is not packaged: run ./mvnw -DskipTests package first");
        String image = "tandem.local/" + service + ":" + TAG;
        new ImageFromDockerfile(image, false)
                .withFileFromPath(".", module)
                .withDockerfile(Chart.repoRoot().resolve("deploy/docker/" + service + "/Dockerfile"))
                .get();
        DockerClient docker = DockerClientFactory.instance().client();
        Path tar = Files.createDirectories(Path.of("target/k3s")).resolve(service + ".tar");
        try (InputStream in = docker.saveImageCmd(image).exec()) {
            Files.copy(in, tar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        K3S.copyFileToContainer(MountableFile.forHostPath(tar), "/tmp/" + service + ".tar");
        var result = K3S.execInContainer("ctr", "-n", "k8s.io", "images", "import", "/tmp/" + service + ".tar");
        assertEquals(0, result.getExitCode(), result.getStderr());
    }
}
