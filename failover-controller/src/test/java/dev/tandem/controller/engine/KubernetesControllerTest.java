package dev.tandem.controller.engine;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.leadership.LeaseLeadership;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.model.Step;
import dev.tandem.controller.model.Transition;
import dev.tandem.controller.model.TransitionKind;
import dev.tandem.controller.platform.KubernetesReplicaPlatform;
import dev.tandem.controller.state.CasConflictException;
import dev.tandem.controller.state.KubernetesClusterStateStore;
import dev.tandem.controller.state.StoredState;
import dev.tandem.proto.Role;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes side against the fabric8 mock API server in CRUD mode: ConfigMap
 * compare-and-set, Lease election, pod labels, Events, pod-deletion signals, and a controller
 * that finishes a failover left half-done in the ConfigMap. Replicas are the in-memory models;
 * the *IT tests use real replica processes.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class KubernetesControllerTest {

    static final java.util.concurrent.atomic.AtomicInteger NAMESPACES = new java.util.concurrent.atomic.AtomicInteger();
    /** One namespace per test: the mock API server lives as long as the test class. */
    String NS;

    @org.junit.jupiter.api.BeforeEach
    void namespace() {
        NS = "test-" + NAMESPACES.incrementAndGet();
    }

    @KubernetesTestServer
    KubernetesServer server;

    final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    KubernetesClient client() {
        return server.getClient();
    }

    static ClusterState state(long epoch, String leader) {
        return new ClusterState(epoch, leader, List.of(new Member("r1", "10.0.0.1:8080")), null, List.of());
    }

    @Test
    void configMapCompareAndSetRefusesAStaleResourceVersion() throws Exception {
        KubernetesClusterStateStore a = new KubernetesClusterStateStore(client(), NS, "cas");
        KubernetesClusterStateStore b = new KubernetesClusterStateStore(client(), NS, "cas");
        assertTrue(a.read().isEmpty());
        StoredState v1 = a.compareAndSet(null, state(1, "r1"));
        assertThrows(CasConflictException.class, () -> b.compareAndSet(null, state(1, "r2")), "create of an existing ConfigMap");
        StoredState v2 = b.compareAndSet(v1.version(), state(2, "r1"));
        CasConflictException e = assertThrows(CasConflictException.class, () -> a.compareAndSet(v1.version(), state(2, "r9")));
        assertTrue(e.getMessage().contains("cas-cluster-state"), e.getMessage());
        StoredState read = a.read().orElseThrow();
        assertEquals(state(2, "r1"), read.state());
        assertEquals(v2.version(), read.version());
        assertNotNull(client().configMaps().inNamespace(NS).withName("cas-cluster-state").get().getData().get("state.json"));
    }

    @Test
    void ofTwoControllersOnlyTheLeaseHolderIsActiveAndTheOtherTakesOver() {
        LeaseLeadership a = lease("ha", "controller-a");
        LeaseLeadership b = lease("ha", "controller-b");
        await().atMost(Duration.ofSeconds(10)).until(() -> a.isActive() || b.isActive());
        // Hold for a few renewals: never both.
        long until = System.currentTimeMillis() + 1_500;
        while (System.currentTimeMillis() < until) {
            assertTrue(a.isActive() ^ b.isActive(), "exactly one controller active");
        }
        LeaseLeadership holder = a.isActive() ? a : b;
        LeaseLeadership other = holder == a ? b : a;
        Lease lease = client().leases().inNamespace(NS).withName("ha-controller").get();
        assertEquals(holder.identity(), lease.getSpec().getHolderIdentity());
        holder.close();
        await().atMost(Duration.ofSeconds(10)).until(other::isActive);
        assertEquals(other.identity(), client().leases().inNamespace(NS).withName("ha-controller").get().getSpec().getHolderIdentity());
    }

    LeaseLeadership lease(String release, String identity) {
        LeaseLeadership l = new LeaseLeadership(client(), NS, release, identity, Duration.ofMillis(2_000), Duration.ofMillis(1_500),
                Duration.ofMillis(200));
        closeables.add(l);
        l.start();
        return l;
    }

    void createReplicaPods(String release, int n) {
        for (int i = 1; i <= n; i++) {
            Pod pod = new PodBuilder()
                    .withNewMetadata().withName("r" + i).withNamespace(NS)
                    .addToLabels(KubernetesReplicaPlatform.selector(release))
                    .addToLabels("app.kubernetes.io/name", "tandem")
                    .endMetadata()
                    .withNewSpec().addNewContainer().withName("replica").withImage("tandem/replica")
                    .addNewPort().withName("http").withContainerPort(8080).endPort().endContainer().endSpec()
                    .withNewStatus().withPodIP("10.0.0." + i)
                    .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
                    .build();
            client().pods().inNamespace(NS).resource(pod).create();
        }
    }

    ControllerLoop controller(String release, ReplicaModels replicas) {
        KubernetesReplicaPlatform platform = new KubernetesReplicaPlatform(client(), NS, release, 8080, "test-controller",
                Clock.systemUTC(), () -> { });
        closeables.add(platform);
        await().atMost(Duration.ofSeconds(10)).until(() -> platform.replicas().size() == replicas.replicas.size());
        LeaseLeadership leadership = new LeaseLeadership(client(), NS, release, "test-controller", Duration.ofMillis(2_000),
                Duration.ofMillis(1_500), Duration.ofMillis(200));
        ControllerSettings s = TestSettings.settings(List.of(), null, ControllerSettings.Backend.KUBERNETES, NS, Duration.ofSeconds(5));
        // Replica models are keyed by id; the platform's pod IPs are only carried along.
        ControllerLoop loop = new ControllerLoop(s, new KubernetesClusterStateStore(client(), NS, release), platform, replicas,
                leadership, new ControllerMetrics(new SimpleMeterRegistry()), Clock.systemUTC());
        closeables.add(0, loop);
        leadership.start();
        await().atMost(Duration.ofSeconds(10)).until(leadership::isActive);
        return loop;
    }

    Map<String, String> roleLabels() {
        return client().pods().inNamespace(NS).list().getItems().stream()
                .filter(p -> p.getMetadata().getLabels().containsKey(KubernetesReplicaPlatform.ROLE_LABEL))
                .collect(Collectors.toMap(p -> p.getMetadata().getName(),
                        p -> p.getMetadata().getLabels().get(KubernetesReplicaPlatform.ROLE_LABEL)));
    }

    List<String> eventReasons() {
        return client().v1().events().inNamespace(NS).list().getItems().stream().map(Event::getReason).toList();
    }

    ClusterState stored(String release) {
        return new KubernetesClusterStateStore(client(), NS, release).read().orElseThrow().state();
    }

    @Test
    void failoverOnPodDeletionRelabelsPodsAndWritesEvents() throws Exception {
        ReplicaModels replicas = new ReplicaModels(3);
        createReplicaPods("kf", 3);
        ControllerLoop loop = controller("kf", replicas);
        loop.runRound();
        assertEquals("r1", stored("kf").leader());
        assertEquals(Map.of("r1", "leader", "r2", "follower", "r3", "follower"), roleLabels());
        assertTrue(eventReasons().containsAll(List.of("BootstrapRecorded", "BootstrapPromoted", "BootstrapDone")), eventReasons().toString());

        replicas.write(5);
        client().pods().inNamespace(NS).withName("r1").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            loop.runRound();
            return stored("kf").epoch() == 2;
        });
        ClusterState s = stored("kf");
        assertNull(s.inProgress());
        assertEquals("r2", s.leader());
        assertEquals("pod_deleted", s.history().get(s.history().size() - 1).reason());
        assertEquals(Role.ROLE_LEADER, replicas.get("r2").role);
        assertEquals(Map.of("r2", "leader", "r3", "follower"), roleLabels());
        assertTrue(eventReasons().containsAll(List.of("FailoverRecorded", "FailoverFenced", "FailoverPromoted",
                "FailoverFollowersPointed", "FailoverRelabeled", "FailoverDone")), eventReasons().toString());
        Event done = client().v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> e.getReason().equals("FailoverDone")).findFirst().orElseThrow();
        assertEquals("r2", done.getInvolvedObject().getName());
        assertTrue(done.getMessage().contains(s.history().get(1).id()), "events carry the failover id: " + done.getMessage());
    }

    @Test
    void aControllerFinishesTheFailoverRecordedInTheConfigMapByOneThatDied() throws Exception {
        ReplicaModels replicas = new ReplicaModels(3);
        createReplicaPods("kr", 3);
        // What a controller that died right after promoting r3 leaves behind: epoch 4 recorded,
        // r3 promoted, nobody pointed at it, labels untouched.
        List<Member> members = List.of(new Member("r1", "10.0.0.1:8080"), new Member("r2", "10.0.0.2:8080"),
                new Member("r3", "10.0.0.3:8080"));
        Transition t = new Transition("failover-e4-dead", TransitionKind.FAILOVER, "probe_failed", 4, "r1", "r3", Step.PROMOTED,
                1, 1, 0, null);
        new KubernetesClusterStateStore(client(), NS, "kr").compareAndSet(null, new ClusterState(4, "r3", members, t, List.of()));
        replicas.crash("r1");
        assertTrue(replicas.promote(members.get(2), 4, members, t.id(), Duration.ZERO).ok());
        for (String id : List.of("r1", "r2")) {
            client().pods().inNamespace(NS).withName(id).edit(p -> new PodBuilder(p).editMetadata()
                    .addToLabels(KubernetesReplicaPlatform.ROLE_LABEL, id.equals("r1") ? "leader" : "follower").endMetadata().build());
        }

        ControllerLoop loop = controller("kr", replicas);
        loop.runRound();
        ClusterState s = stored("kr");
        assertNull(s.inProgress(), "finished");
        assertEquals(4, s.epoch(), "in the recorded epoch, not a new one");
        assertEquals("failover-e4-dead", s.history().get(0).id());
        assertEquals(Role.ROLE_FOLLOWER, replicas.get("r2").role);
        assertEquals("r3", replicas.get("r2").leader);
        assertEquals(Map.of("r1", "follower", "r2", "follower", "r3", "leader"), roleLabels());
    }

    @Test
    void theAdminApiWantsTheClusterSecretAndMetricsUseTheConventionalNames() {
        io.restassured.RestAssured.given().post("/v1/admin/switchover?to=r2")
                .then().statusCode(401).contentType("application/problem+json");
        io.restassured.RestAssured.given().header("Tandem-Cluster-Secret", "wrong-secret-0123456789").get("/v1/admin/state")
                .then().statusCode(401);
        // The app under test runs against the mock API server with no replica pods: nothing to
        // switch over to, whether or not it holds its Lease yet.
        int status = io.restassured.RestAssured.given().header("Tandem-Cluster-Secret", "test-secret-0123456789")
                .post("/v1/admin/switchover?to=r2").then().contentType("application/problem+json").extract().statusCode();
        assertTrue(status == 409 || status == 503, "status " + status);
        io.restassured.RestAssured.given().header("Tandem-Cluster-Secret", "test-secret-0123456789").get("/v1/admin/state")
                .then().statusCode(200).body("controller", org.hamcrest.Matchers.notNullValue());
        String metrics = io.restassured.RestAssured.given().get("/q/metrics").then().statusCode(200).extract().asString();
        for (String name : List.of("tandem_controller_epoch", "tandem_controller_healthy_replicas", "tandem_controller_leaders",
                "tandem_controller_is_active", "tandem_controller_failover_duration_seconds_bucket")) {
            assertTrue(metrics.contains(name), name + " missing from /q/metrics");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> io.restassured.RestAssured.given().get("/q/metrics").asString()
                .contains("tandem_controller_blocked_decisions_total{reason=\"no_replicas\"}"));
        io.restassured.RestAssured.given().get("/q/health/ready").then().statusCode(200);
    }
}
