package dev.tandem.deploy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The rendered objects are accepted by an API server (fabric8 mock, CRUD mode) and read back
 * unchanged; the role labels the controller writes make the -rw/-ro Services select the right
 * pods.
 */
@EnableKubernetesMockClient(crud = true)
class MockApiServerTest {

    KubernetesMockServer server;
    KubernetesClient client;

    @Test
    void everyRenderedObjectIsCreatedAndReadBack() {
        for (Chart.Rendered r : List.of(Chart.renderDefaults(), Chart.renderProduction())) {
            for (HasMetadata o : r.objects()) {
                HasMetadata created = create(o);
                assertNotNull(created.getMetadata().getUid(), o.getKind());
                HasMetadata read = get(o);
                assertNotNull(read, "cannot read back " + o.getKind() + "/" + o.getMetadata().getName());
                assertEquals(o.getMetadata().getLabels(), read.getMetadata().getLabels(), o.getKind());
            }
        }
        assertEquals(3, client.apps().statefulSets().inNamespace("tandem").withName("tandem-replica").get().getSpec().getReplicas());
        assertEquals(5, client.apps().statefulSets().inNamespace("shop").withName("orders-replica").get().getSpec().getReplicas());
        assertEquals(Set.of("tandem-replica", "tandem-router", "tandem-controller"),
                client.policy().v1().podDisruptionBudget().inNamespace("tandem").list().getItems().stream()
                        .map(p -> p.getMetadata().getName()).collect(Collectors.toSet()));
    }

    @Test
    void roleLabelsSetByTheControllerRouteTheReadWriteAndReadOnlyServices() {
        Chart.Rendered r = Chart.renderDefaults();
        r.objects().forEach(this::create);
        StatefulSet sts = client.apps().statefulSets().inNamespace("tandem").withName("tandem-replica").get();
        // What the StatefulSet controller would create, then what the failover controller labels.
        for (int i = 0; i < sts.getSpec().getReplicas(); i++) {
            client.pods().inNamespace("tandem").resource(new PodBuilder()
                    .withNewMetadata().withName("tandem-replica-" + i).withLabels(sts.getSpec().getTemplate().getMetadata().getLabels()).endMetadata()
                    .withSpec(sts.getSpec().getTemplate().getSpec()).build()).create();
        }
        label("tandem-replica-1", "leader");
        label("tandem-replica-0", "follower");
        label("tandem-replica-2", "follower");
        assertEquals(Set.of("tandem-replica-1"), selected("tandem-rw"));
        assertEquals(Set.of("tandem-replica-0", "tandem-replica-2"), selected("tandem-ro"));
        assertEquals(Set.of("tandem-replica-0", "tandem-replica-1", "tandem-replica-2"), selected("tandem-replica-headless"));

        // Failover: the controller moves the labels; the Services follow without any change to them.
        label("tandem-replica-1", "follower");
        label("tandem-replica-2", "leader");
        assertEquals(Set.of("tandem-replica-2"), selected("tandem-rw"));
        assertEquals(Set.of("tandem-replica-0", "tandem-replica-1"), selected("tandem-ro"));
    }

    private void label(String pod, String role) {
        client.pods().inNamespace("tandem").withName(pod).edit(p -> new PodBuilder(p).editMetadata()
                .addToLabels("tandem.dev/role", role).endMetadata().build());
    }

    private Set<String> selected(String service) {
        Service s = client.services().inNamespace("tandem").withName(service).get();
        Map<String, String> selector = s.getSpec().getSelector();
        return client.pods().inNamespace("tandem").withLabels(selector).list().getItems().stream()
                .map(Pod::getMetadata).map(m -> m.getName()).collect(Collectors.toSet());
    }

    private HasMetadata create(HasMetadata o) {
        if (o instanceof GenericKubernetesResource g) {
            return client.genericKubernetesResources(context(g)).inNamespace(g.getMetadata().getNamespace()).resource(g).create();
        }
        return client.resource(o).inNamespace(o.getMetadata().getNamespace()).create();
    }

    private HasMetadata get(HasMetadata o) {
        if (o instanceof GenericKubernetesResource g) {
            return client.genericKubernetesResources(context(g)).inNamespace(g.getMetadata().getNamespace())
                    .withName(g.getMetadata().getName()).get();
        }
        return client.resource(o).inNamespace(o.getMetadata().getNamespace()).get();
    }

    /** ServiceMonitor and PrometheusRule: Prometheus Operator kinds, unknown to fabric8's model. */
    private static ResourceDefinitionContext context(GenericKubernetesResource g) {
        String[] gv = g.getApiVersion().split("/");
        String plural = switch (g.getKind()) {
            case "ServiceMonitor" -> "servicemonitors";
            case "PrometheusRule" -> "prometheusrules";
            default -> throw new AssertionError("unexpected kind " + g.getKind());
        };
        return new ResourceDefinitionContext.Builder().withGroup(gv[0]).withVersion(gv[1]).withKind(g.getKind())
                .withPlural(plural).withNamespaced(true).build();
    }
}
