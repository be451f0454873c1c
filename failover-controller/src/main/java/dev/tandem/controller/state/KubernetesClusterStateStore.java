package dev.tandem.controller.state;

import dev.tandem.controller.model.ClusterState;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;
import java.util.Map;
import java.util.Optional;

/**
 * The cluster state in ConfigMap {@code <release>-cluster-state}, key {@code state.json}.
 * Compare-and-set is the API server's optimistic concurrency: an update carries the
 * resourceVersion we read and is refused with 409 Conflict if anyone wrote in between; a create
 * is refused with 409 if the ConfigMap already exists.
 */
public final class KubernetesClusterStateStore implements ClusterStateStore {

    public static final String KEY = "state.json";

    private final KubernetesClient client;
    private final String namespace;
    private final String name;
    private final Map<String, String> labels;

    public KubernetesClusterStateStore(KubernetesClient client, String namespace, String release) {
        this.client = client;
        this.namespace = namespace;
        this.name = release + "-cluster-state";
        this.labels = Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", release,
                "app.kubernetes.io/component", "controller");
    }

    @Override
    public Optional<StoredState> read() {
        ConfigMap cm = client.configMaps().inNamespace(namespace).withName(name).get();
        if (cm == null || cm.getData() == null || !cm.getData().containsKey(KEY)) {
            return Optional.empty();
        }
        return Optional.of(new StoredState(StateJson.readState(cm.getData().get(KEY)), cm.getMetadata().getResourceVersion()));
    }

    @Override
    public StoredState compareAndSet(String expectedVersion, ClusterState next) throws CasConflictException {
        ConfigMap cm = new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace)
                .withLabels(labels)
                .withResourceVersion(expectedVersion)
                .endMetadata()
                .addToData(KEY, StateJson.write(next))
                .build();
        try {
            ConfigMap written = expectedVersion == null
                    ? client.configMaps().inNamespace(namespace).resource(cm).create()
                    // update() (unlike replace()) sends our resourceVersion and does not retry
                    // with a fresh one: exactly compare-and-set.
                    : client.configMaps().inNamespace(namespace).resource(cm).update();
            return new StoredState(next, written.getMetadata().getResourceVersion());
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT || e.getCode() == HttpURLConnection.HTTP_NOT_FOUND) {
                throw new CasConflictException("ConfigMap " + namespace + "/" + name + " changed since version "
                        + expectedVersion + ": " + e.getStatus().getMessage());
            }
            throw e;
        }
    }

    public String configMapName() {
        return name;
    }

    @Override
    public String describe() {
        return "ConfigMap " + namespace + "/" + name;
    }
}
