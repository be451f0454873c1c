package dev.tandem.controller.platform;

import dev.tandem.controller.model.Member;
import dev.tandem.controller.planner.PlatformSignal;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Replicas as pods labelled {@code app.kubernetes.io/instance=<release>,
 * app.kubernetes.io/component=replica}, seen through a fabric8 informer (its cache is the list
 * of replicas, and a deleted or not-ready pod is a failure signal without waiting for probes).
 * The replica id is the pod name (stable in a StatefulSet); the address is the pod IP and its
 * {@code http} container port.
 */
public final class KubernetesReplicaPlatform implements ReplicaPlatform {

    private static final Logger LOG = Logger.getLogger(KubernetesReplicaPlatform.class);
    public static final String ROLE_LABEL = "tandem.dev/role";

    private final KubernetesClient client;
    private final String namespace;
    private final String release;
    private final int defaultPort;
    private final String controllerIdentity;
    private final Clock clock;
    private final SharedIndexInformer<Pod> informer;
    private final AtomicLong eventSeq = new AtomicLong();

    public KubernetesReplicaPlatform(KubernetesClient client, String namespace, String release, int defaultPort,
                                     String controllerIdentity, Clock clock, Runnable onChange) {
        this.client = client;
        this.namespace = namespace;
        this.release = release;
        this.defaultPort = defaultPort;
        this.controllerIdentity = controllerIdentity;
        this.clock = clock;
        this.informer = client.pods().inNamespace(namespace).withLabels(selector(release))
                .inform(new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(Pod pod) {
                        onChange.run();
                    }

                    @Override
                    public void onUpdate(Pod oldPod, Pod newPod) {
                        if (ready(oldPod) != ready(newPod) || !Objects.equals(deleting(oldPod), deleting(newPod))) {
                            onChange.run();
                        }
                    }

                    @Override
                    public void onDelete(Pod pod, boolean finalStateUnknown) {
                        onChange.run();
                    }
                }, 0);
    }

    public static Map<String, String> selector(String release) {
        return Map.of("app.kubernetes.io/instance", release, "app.kubernetes.io/component", "replica");
    }

    private List<Pod> pods() {
        List<Pod> pods = new ArrayList<>(informer.getStore().list());
        pods.sort(Comparator.comparing(p -> p.getMetadata().getName()));
        return pods;
    }

    @Override
    public List<Member> replicas() {
        List<Member> out = new ArrayList<>();
        for (Pod p : pods()) {
            String ip = p.getStatus() == null ? null : p.getStatus().getPodIP();
            if (ip != null && !ip.isBlank()) {
                out.add(new Member(p.getMetadata().getName(), ip + ":" + port(p)));
            }
        }
        return out;
    }

    private int port(Pod p) {
        if (p.getSpec() != null && p.getSpec().getContainers() != null) {
            for (var c : p.getSpec().getContainers()) {
                for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                    if ("http".equals(cp.getName()) && cp.getContainerPort() != null) {
                        return cp.getContainerPort();
                    }
                }
            }
        }
        return defaultPort;
    }

    @Override
    public Map<String, PlatformSignal> signals(Collection<String> memberIds) {
        Map<String, Pod> byName = new HashMap<>();
        for (Pod p : pods()) {
            byName.put(p.getMetadata().getName(), p);
        }
        Map<String, PlatformSignal> out = new HashMap<>();
        for (String id : memberIds) {
            Pod p = byName.get(id);
            if (p == null || deleting(p) != null) {
                out.put(id, PlatformSignal.DELETED);
            } else if (!ready(p)) {
                out.put(id, PlatformSignal.NOT_READY);
            }
        }
        return out;
    }

    private static String deleting(Pod p) {
        return p.getMetadata().getDeletionTimestamp();
    }

    private static boolean ready(Pod p) {
        if (p.getStatus() == null || p.getStatus().getConditions() == null) {
            return false;
        }
        return p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    @Override
    public void applyRoles(String leader, Collection<String> memberIds) {
        Map<String, Pod> byName = new HashMap<>();
        for (Pod p : pods()) {
            byName.put(p.getMetadata().getName(), p);
        }
        // Demote first: between the two patches the -rw Service selects no pod (writes wait),
        // never two.
        List<String> order = new ArrayList<>(memberIds);
        order.sort(Comparator.comparing((String id) -> id.equals(leader)));
        for (String id : order) {
            Pod p = byName.get(id);
            if (p == null) {
                continue;
            }
            String want = id.equals(leader) ? "leader" : "follower";
            String have = p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(ROLE_LABEL);
            if (want.equals(have)) {
                continue;
            }
            try {
                client.pods().inNamespace(namespace).withName(id).edit(pod -> new PodBuilder(pod)
                        .editMetadata().addToLabels(ROLE_LABEL, want).endMetadata().build());
                LOG.infof("labelled pod %s %s=%s (was %s)", id, ROLE_LABEL, want, have);
            } catch (KubernetesClientException e) {
                if (e.getCode() != 404) {
                    throw e;
                }
            }
        }
    }

    @Override
    public void event(String replicaId, String type, String reason, String message) {
        ObjectReference about = replicaId == null
                ? new ObjectReferenceBuilder().withKind("ConfigMap").withApiVersion("v1").withNamespace(namespace)
                        .withName(release + "-cluster-state").build()
                : new ObjectReferenceBuilder().withKind("Pod").withApiVersion("v1").withNamespace(namespace)
                        .withName(replicaId).build();
        String now = Instant.now(clock).toString();
        try {
            client.v1().events().inNamespace(namespace).resource(new EventBuilder()
                    .withNewMetadata()
                    .withName(release + "-controller." + Long.toHexString(clock.millis()) + "." + eventSeq.incrementAndGet())
                    .withNamespace(namespace)
                    .addToLabels(selectorOfController())
                    .endMetadata()
                    .withInvolvedObject(about)
                    .withType(type)
                    .withReason(reason)
                    .withMessage(message)
                    .withFirstTimestamp(now)
                    .withLastTimestamp(now)
                    .withCount(1)
                    .withNewSource().withComponent("tandem-failover-controller").withHost(controllerIdentity).endSource()
                    .build()).create();
        } catch (KubernetesClientException e) {
            // Events are for humans; failing to write one must never stop a failover.
            LOG.warnf("could not write event %s %s: %s", reason, message, e.getMessage());
        }
    }

    private Map<String, String> selectorOfController() {
        return Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", release,
                "app.kubernetes.io/component", "controller");
    }

    @Override
    public void close() {
        informer.close();
    }
}
