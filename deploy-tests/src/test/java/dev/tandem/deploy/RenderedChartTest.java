package dev.tandem.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rendered chart, parsed with fabric8: the properties platform teams and SREs rely on. */
class RenderedChartTest {

    private static final Chart.Rendered DEFAULTS = Chart.renderDefaults();
    private static final Chart.Rendered PRODUCTION = Chart.renderProduction();

    // ---- workloads ------------------------------------------------------------------------

    @Test
    void replicasRunAsAParallelStatefulSetWithAPersistentVolumeEach() {
        StatefulSet sts = DEFAULTS.get(StatefulSet.class, "tandem-replica");
        assertEquals(3, sts.getSpec().getReplicas());
        assertEquals("Parallel", sts.getSpec().getPodManagementPolicy());
        assertEquals("tandem-replica-headless", sts.getSpec().getServiceName());
        var claim = sts.getSpec().getVolumeClaimTemplates().get(0);
        assertEquals("data", claim.getMetadata().getName());
        assertEquals("10Gi", claim.getSpec().getResources().getRequests().get("storage").toString());
        assertNull(claim.getSpec().getStorageClassName(), "default StorageClass unless one is named");
        Container c = container(sts.getSpec().getTemplate());
        assertEquals("/var/lib/tandem", mountPath(c, "data"));
        assertTrue(env(c, "TANDEM_REPLICA_DATA_DIR").getValue().startsWith("/var/lib/tandem/"),
                "the data dir must be on the PVC");

        StatefulSet prod = PRODUCTION.get(StatefulSet.class, "orders-replica");
        assertEquals(5, prod.getSpec().getReplicas());
        assertEquals("fast-ssd", prod.getSpec().getVolumeClaimTemplates().get(0).getSpec().getStorageClassName());
        assertEquals("100Gi", prod.getSpec().getVolumeClaimTemplates().get(0).getSpec().getResources().getRequests().get("storage").toString());
    }

    @Test
    void replicaIdentityComesFromThePodAndTheAdvertisedAddressIsItsStableDnsName() {
        Container c = container(DEFAULTS.get(StatefulSet.class, "tandem-replica").getSpec().getTemplate());
        assertEquals("metadata.name", env(c, "POD_NAME").getValueFrom().getFieldRef().getFieldPath());
        assertEquals("$(POD_NAME)", env(c, "TANDEM_REPLICA_ID").getValue());
        assertEquals("$(POD_NAME).tandem-replica-headless.$(POD_NAMESPACE).svc.cluster.local:8080",
                env(c, "TANDEM_REPLICA_ADVERTISED_ADDRESS").getValue());
        // $(VAR) references only expand when VAR is defined earlier in the list.
        List<String> names = c.getEnv().stream().map(EnvVar::getName).toList();
        assertTrue(names.indexOf("POD_NAME") < names.indexOf("TANDEM_REPLICA_ID"));
        assertTrue(names.indexOf("POD_NAMESPACE") < names.indexOf("TANDEM_REPLICA_ADVERTISED_ADDRESS"));
        assertEquals("one", env(c, "TANDEM_REPLICA_DEFAULT_WRITE_CONCERN").getValue());

        Container prod = container(PRODUCTION.get(StatefulSet.class, "orders-replica").getSpec().getTemplate());
        assertEquals("$(POD_NAME).orders-replica-headless.$(POD_NAMESPACE).svc.k8s.example.internal:8080",
                env(prod, "TANDEM_REPLICA_ADVERTISED_ADDRESS").getValue());
        assertEquals("majority", env(prod, "TANDEM_REPLICA_DEFAULT_WRITE_CONCERN").getValue());
        assertEquals("262144", env(prod, "TANDEM_REPLICA_MAX_VALUE_BYTES").getValue(), "extraEnv is passed through");
        assertEquals("registry.example.com/tandem/replica-service:0.1.0-rc1", prod.getImage());
    }

    @Test
    void routerSeedsListEveryReplicaPodByDnsName() {
        Deployment router = DEFAULTS.get(Deployment.class, "tandem-router");
        assertTrue(router.getSpec().getReplicas() >= 2, "at least two routers by default");
        String seeds = env(container(router.getSpec().getTemplate()), "TANDEM_ROUTER_REPLICAS").getValue();
        assertEquals("tandem-replica-0=tandem-replica-0.tandem-replica-headless.tandem.svc.cluster.local:8080,"
                + "tandem-replica-1=tandem-replica-1.tandem-replica-headless.tandem.svc.cluster.local:8080,"
                + "tandem-replica-2=tandem-replica-2.tandem-replica-headless.tandem.svc.cluster.local:8080", seeds);

        String prodSeeds = env(container(PRODUCTION.get(Deployment.class, "orders-router").getSpec().getTemplate()),
                "TANDEM_ROUTER_REPLICAS").getValue();
        assertEquals(5, prodSeeds.split(",").length, prodSeeds);
        assertTrue(prodSeeds.startsWith("orders-replica-0=orders-replica-0.orders-replica-headless.shop.svc.k8s.example.internal:8080"), prodSeeds);
    }

    @Test
    void controllerRunsTwiceWithTheKubernetesStateBackend() {
        Deployment controller = DEFAULTS.get(Deployment.class, "tandem-controller");
        assertTrue(controller.getSpec().getReplicas() >= 2, "at least two controllers (one active via the Lease)");
        Container c = container(controller.getSpec().getTemplate());
        assertEquals("kubernetes", env(c, "TANDEM_CONTROLLER_STATE_BACKEND").getValue());
        assertEquals("tandem", env(c, "TANDEM_CONTROLLER_KUBERNETES_RELEASE").getValue());
        assertEquals("$(POD_NAME)", env(c, "TANDEM_CONTROLLER_KUBERNETES_IDENTITY").getValue());
        assertEquals(env(container(DEFAULTS.get(StatefulSet.class, "tandem-replica").getSpec().getTemplate()),
                "TANDEM_REPLICA_MIN_WRITE_CONCERN").getValue(), env(c, "TANDEM_CONTROLLER_MIN_WRITE_CONCERN").getValue(),
                "controller and replicas must agree on the minimum write concern");
        assertEquals("tandem-controller", controller.getSpec().getTemplate().getSpec().getServiceAccountName());
        assertEquals(Boolean.TRUE, controller.getSpec().getTemplate().getSpec().getAutomountServiceAccountToken());
        Container prod = container(PRODUCTION.get(Deployment.class, "orders-controller").getSpec().getTemplate());
        assertEquals("50", env(prod, "TANDEM_CONTROLLER_PROBE_INTERVAL_MS").getValue());
        assertEquals("4", env(prod, "TANDEM_CONTROLLER_FAILURE_THRESHOLD").getValue());
    }

    @Test
    void onlyTheControllerGetsAnApiToken() {
        for (Chart.Rendered r : List.of(DEFAULTS, PRODUCTION)) {
            for (PodTemplateSpec t : podTemplates(r)) {
                String component = t.getMetadata().getLabels().get("app.kubernetes.io/component");
                boolean expected = "controller".equals(component);
                assertEquals(expected, Boolean.TRUE.equals(t.getSpec().getAutomountServiceAccountToken()), component);
            }
        }
    }

    @Test
    void everyProbeHitsTheQuarkusHealthEndpointsOnThePortNamedHttp() {
        for (Chart.Rendered r : List.of(DEFAULTS, PRODUCTION)) {
            for (PodTemplateSpec t : podTemplates(r)) {
                Container c = container(t);
                assertEquals(8080, c.getPorts().get(0).getContainerPort());
                assertEquals("http", c.getPorts().get(0).getName());
                assertProbe(c.getLivenessProbe(), "/q/health/live", c.getName() + " liveness");
                assertProbe(c.getReadinessProbe(), "/q/health/ready", c.getName() + " readiness");
            }
        }
        Container replica = container(DEFAULTS.get(StatefulSet.class, "tandem-replica").getSpec().getTemplate());
        assertProbe(replica.getStartupProbe(), "/q/health/live", "replica startup");
        assertTrue(replica.getStartupProbe().getPeriodSeconds() * replica.getStartupProbe().getFailureThreshold() >= 120,
                "a large RocksDB needs minutes to open before liveness may restart it");
    }

    @Test
    void everyContainerIsNonRootWithAReadOnlyRootFilesystemAndAWritableTmp() {
        for (Chart.Rendered r : List.of(DEFAULTS, PRODUCTION)) {
            for (PodTemplateSpec t : podTemplates(r)) {
                PodSpec pod = t.getSpec();
                assertEquals(Boolean.TRUE, pod.getSecurityContext().getRunAsNonRoot());
                assertTrue(pod.getSecurityContext().getRunAsUser() > 0);
                assertEquals("RuntimeDefault", pod.getSecurityContext().getSeccompProfile().getType());
                Container c = container(t);
                var sc = c.getSecurityContext();
                assertEquals(Boolean.TRUE, sc.getReadOnlyRootFilesystem(), c.getName());
                assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation(), c.getName());
                assertEquals(List.of("ALL"), sc.getCapabilities().getDrop(), c.getName());
                assertEquals("/tmp", mountPath(c, "tmp"), c.getName());
                assertNotNull(pod.getVolumes().stream().filter(v -> v.getName().equals("tmp")).findFirst().orElseThrow().getEmptyDir(),
                        "/tmp is an emptyDir");
                assertTrue(env(c, "JAVA_TOOL_OPTIONS").getValue().contains("-Djava.io.tmpdir=/tmp"));
            }
        }
    }

    @Test
    void replicasSpreadAcrossZonesAndHosts() {
        var constraints = DEFAULTS.get(StatefulSet.class, "tandem-replica").getSpec().getTemplate().getSpec().getTopologySpreadConstraints();
        Set<String> keys = constraints.stream().map(c -> c.getTopologyKey()).collect(Collectors.toSet());
        assertEquals(Set.of("topology.kubernetes.io/zone", "kubernetes.io/hostname"), keys);
        for (var c : constraints) {
            assertEquals(Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", "tandem",
                    "app.kubernetes.io/component", "replica"), c.getLabelSelector().getMatchLabels());
        }
        PRODUCTION.get(StatefulSet.class, "orders-replica").getSpec().getTemplate().getSpec().getTopologySpreadConstraints()
                .forEach(c -> assertEquals("DoNotSchedule", c.getWhenUnsatisfiable()));
    }

    // ---- services and selectors -----------------------------------------------------------

    @Test
    void readWriteAndReadOnlyServicesSelectReplicasByRoleLabel() {
        Service rw = DEFAULTS.get(Service.class, "tandem-rw");
        Service ro = DEFAULTS.get(Service.class, "tandem-ro");
        Map<String, String> replica = Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", "tandem",
                "app.kubernetes.io/component", "replica");
        assertEquals(with(replica, "tandem.dev/role", "leader"), rw.getSpec().getSelector());
        assertEquals(with(replica, "tandem.dev/role", "follower"), ro.getSpec().getSelector());
        Service headless = DEFAULTS.get(Service.class, "tandem-replica-headless");
        assertEquals("None", headless.getSpec().getClusterIP());
        assertEquals(Boolean.TRUE, headless.getSpec().getPublishNotReadyAddresses(), "catching-up followers stay addressable");
        assertEquals(replica, headless.getSpec().getSelector());
        // The pod template must not carry a role: only the controller assigns one.
        var podLabels = DEFAULTS.get(StatefulSet.class, "tandem-replica").getSpec().getTemplate().getMetadata().getLabels();
        assertFalse(podLabels.containsKey("tandem.dev/role"));
    }

    @Test
    void everyServiceAndPdbSelectsExactlyOneWorkload() {
        for (Chart.Rendered r : List.of(DEFAULTS, PRODUCTION)) {
            List<Map<String, String>> selectors = new ArrayList<>();
            r.all(Service.class).forEach(s -> selectors.add(without(s.getSpec().getSelector(), "tandem.dev/role")));
            r.all(PodDisruptionBudget.class).forEach(p -> selectors.add(p.getSpec().getSelector().getMatchLabels()));
            for (Map<String, String> sel : selectors) {
                long matching = podTemplates(r).stream().filter(t -> t.getMetadata().getLabels().entrySet().containsAll(sel.entrySet())).count();
                assertEquals(1, matching, "selector " + sel + " must match exactly one workload");
            }
            for (StatefulSet s : r.all(StatefulSet.class)) {
                assertTrue(s.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(s.getSpec().getSelector().getMatchLabels().entrySet()));
            }
            for (Deployment d : r.all(Deployment.class)) {
                assertTrue(d.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(d.getSpec().getSelector().getMatchLabels().entrySet()));
            }
        }
    }

    @Test
    void podDisruptionBudgetsKeepAMajorityOfReplicasAndARouterAndAController() {
        PodDisruptionBudget replica = DEFAULTS.get(PodDisruptionBudget.class, "tandem-replica");
        assertEquals(1, replica.getSpec().getMaxUnavailable().getIntVal());
        assertNull(replica.getSpec().getMinAvailable());
        assertEquals(1, DEFAULTS.get(PodDisruptionBudget.class, "tandem-router").getSpec().getMinAvailable().getIntVal());
        assertEquals(1, DEFAULTS.get(PodDisruptionBudget.class, "tandem-controller").getSpec().getMinAvailable().getIntVal());
        assertEquals(Set.of("tandem-replica", "tandem-router", "tandem-controller"), names(DEFAULTS.all(PodDisruptionBudget.class)));
    }

    // ---- RBAC -----------------------------------------------------------------------------

    @Test
    void controllerRoleIsLeastPrivilege() {
        Role role = DEFAULTS.get(Role.class, "tandem-controller");
        Map<String, Set<String>> granted = new java.util.TreeMap<>();
        for (PolicyRule rule : role.getRules()) {
            for (String group : rule.getApiGroups()) {
                for (String res : rule.getResources()) {
                    String names = rule.getResourceNames() == null || rule.getResourceNames().isEmpty()
                            ? "*" : String.join("|", new TreeSet<>(rule.getResourceNames()));
                    granted.computeIfAbsent(group + "/" + res + "[" + names + "]", k -> new TreeSet<>()).addAll(rule.getVerbs());
                }
            }
        }
        Map<String, Set<String>> expected = Map.of(
                "/pods[*]", Set.of("get", "list", "watch", "patch"),
                "/configmaps[*]", Set.of("create"),
                "/configmaps[tandem-cluster-state]", Set.of("get", "list", "watch", "update", "patch"),
                "coordination.k8s.io/leases[*]", Set.of("create"),
                "coordination.k8s.io/leases[tandem-controller]", Set.of("get", "list", "watch", "update", "patch"),
                "/events[*]", Set.of("create", "patch"),
                "events.k8s.io/events[*]", Set.of("create", "patch"));
        assertEquals(expected, granted);
        assertTrue(DEFAULTS.ofKind("ClusterRole").isEmpty() && DEFAULTS.ofKind("ClusterRoleBinding").isEmpty(), "namespace-scoped only");

        RoleBinding binding = DEFAULTS.get(RoleBinding.class, "tandem-controller");
        assertEquals("Role", binding.getRoleRef().getKind());
        assertEquals("tandem-controller", binding.getRoleRef().getName());
        assertEquals(1, binding.getSubjects().size());
        assertEquals("ServiceAccount", binding.getSubjects().get(0).getKind());
        assertEquals("tandem-controller", binding.getSubjects().get(0).getName());
        assertEquals("tandem", binding.getSubjects().get(0).getNamespace());
        DEFAULTS.get(ServiceAccount.class, "tandem-controller");
        assertEquals(1, DEFAULTS.all(Role.class).size(), "only the controller needs API access");
    }

    // ---- network policy -------------------------------------------------------------------

    @Test
    void networkPolicyAdmitsOnlyTandemComponentsToTheReplicaPort() {
        NetworkPolicy np = DEFAULTS.get(NetworkPolicy.class, "tandem-replica");
        assertEquals(Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", "tandem",
                "app.kubernetes.io/component", "replica"), np.getSpec().getPodSelector().getMatchLabels());
        assertEquals(List.of("Ingress"), np.getSpec().getPolicyTypes());
        assertEquals(1, np.getSpec().getIngress().size());
        var rule = np.getSpec().getIngress().get(0);
        assertEquals("http", rule.getPorts().get(0).getPort().getStrVal());
        assertEquals(1, rule.getFrom().size());
        NetworkPolicyPeer peer = rule.getFrom().get(0);
        assertNull(peer.getNamespaceSelector(), "same namespace only");
        assertEquals(Map.of("app.kubernetes.io/name", "tandem", "app.kubernetes.io/instance", "tandem"), peer.getPodSelector().getMatchLabels());
        var expr = peer.getPodSelector().getMatchExpressions().get(0);
        assertEquals("app.kubernetes.io/component", expr.getKey());
        assertEquals("In", expr.getOperator());
        // The router must reach the replicas' KV gRPC, which shares the port (docs/architecture.md).
        assertEquals(Set.of("replica", "controller", "router"), new HashSet<>(expr.getValues()));

        Chart.Rendered noRouter = Chart.render("tandem", "tandem", List.of(), Map.of("networkPolicy.allowRouter", "false"));
        var values = noRouter.get(NetworkPolicy.class, "tandem-replica").getSpec().getIngress().get(0).getFrom().get(0)
                .getPodSelector().getMatchExpressions().get(0).getValues();
        assertEquals(Set.of("replica", "controller"), new HashSet<>(values));

        var prodFrom = PRODUCTION.get(NetworkPolicy.class, "orders-replica").getSpec().getIngress().get(0).getFrom();
        assertEquals(2, prodFrom.size());
        assertEquals("monitoring", prodFrom.get(1).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));

        assertTrue(Chart.render("tandem", "tandem", List.of(), Map.of("networkPolicy.enabled", "false"))
                .all(NetworkPolicy.class).isEmpty());
    }

    // ---- secret ---------------------------------------------------------------------------

    @Test
    void clusterSecretIsGeneratedAndReachesEveryComponentFromTheSecret() {
        Secret secret = DEFAULTS.get(Secret.class, "tandem-cluster-secret");
        String value = new String(Base64.getDecoder().decode(secret.getData().get("secret")), StandardCharsets.UTF_8);
        assertTrue(value.length() >= 16, "generated secret too short: " + value.length());
        for (PodTemplateSpec t : podTemplates(DEFAULTS)) {
            var ref = env(container(t), "TANDEM_CLUSTER_SECRET").getValueFrom().getSecretKeyRef();
            assertEquals("tandem-cluster-secret", ref.getName());
            assertEquals("secret", ref.getKey());
        }
    }

    @Test
    void anExistingSecretCanBeMountedAsAFileInstead() {
        assertTrue(PRODUCTION.all(Secret.class).isEmpty(), "existingSecret: the chart creates none");
        for (PodTemplateSpec t : podTemplates(PRODUCTION)) {
            Container c = container(t);
            assertEquals("/etc/tandem/secret/secret", env(c, "TANDEM_CLUSTER_SECRET_FILE").getValue());
            assertTrue(c.getEnv().stream().noneMatch(e -> e.getName().equals("TANDEM_CLUSTER_SECRET")));
            assertEquals("/etc/tandem/secret", mountPath(c, "cluster-secret"));
            var vol = t.getSpec().getVolumes().stream().filter(v -> v.getName().equals("cluster-secret")).findFirst().orElseThrow();
            assertEquals("tandem-prod-secret", vol.getSecret().getSecretName());
            // fsGroup owns the files; the group must be able to read them (0440).
            assertEquals(0440, vol.getSecret().getDefaultMode());
        }
    }

    // ---- optional objects -----------------------------------------------------------------

    @Test
    void monitoringObjectsAndTheHpaAreOffByDefault() {
        for (String kind : List.of("ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler")) {
            assertTrue(DEFAULTS.ofKind(kind).isEmpty(), kind + " rendered by default");
        }
        assertTrue(DEFAULTS.find(ConfigMap.class, "tandem-dashboard").isEmpty());
    }

    @Test
    void routerHpaScalesTheRouterDeploymentWhichThenLeavesReplicasToIt() {
        HorizontalPodAutoscaler hpa = PRODUCTION.get(HorizontalPodAutoscaler.class, "orders-router");
        assertEquals("Deployment", hpa.getSpec().getScaleTargetRef().getKind());
        assertEquals("orders-router", hpa.getSpec().getScaleTargetRef().getName());
        assertEquals(3, hpa.getSpec().getMinReplicas());
        assertEquals(10, hpa.getSpec().getMaxReplicas());
        assertEquals(60, hpa.getSpec().getMetrics().get(0).getResource().getTarget().getAverageUtilization());
        assertNull(PRODUCTION.get(Deployment.class, "orders-router").getSpec().getReplicas(), "HPA owns the replica count");
        assertEquals("LoadBalancer", PRODUCTION.get(Service.class, "orders-router").getSpec().getType());
    }

    @Test
    @SuppressWarnings("unchecked")
    void serviceMonitorScrapesEachComponentOnceWithTheComponentAsJob() {
        GenericKubernetesResource sm = (GenericKubernetesResource) PRODUCTION.ofKind("ServiceMonitor").get(0);
        assertEquals("kube-prometheus-stack", sm.getMetadata().getLabels().get("release"));
        Map<String, Object> spec = (Map<String, Object>) sm.getAdditionalProperties().get("spec");
        assertEquals("app.kubernetes.io/component", spec.get("jobLabel"));
        Map<String, String> sel = (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
        List<Service> scraped = PRODUCTION.all(Service.class).stream()
                .filter(s -> s.getMetadata().getLabels().entrySet().containsAll(sel.entrySet())).toList();
        assertEquals(Set.of("orders-replica-headless", "orders-router", "orders-controller"), names(scraped));
        Set<String> components = scraped.stream().map(s -> s.getMetadata().getLabels().get("app.kubernetes.io/component")).collect(Collectors.toSet());
        assertEquals(Set.of("replica", "router", "controller"), components, "job label values the alert rules use");
        Map<String, Object> endpoint = ((List<Map<String, Object>>) spec.get("endpoints")).get(0);
        assertEquals("http", endpoint.get("port"));
        assertEquals("/q/metrics", endpoint.get("path"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void prometheusRuleCarriesEveryAlertWithTheConfiguredRunbookBase() {
        GenericKubernetesResource rule = (GenericKubernetesResource) PRODUCTION.ofKind("PrometheusRule").get(0);
        Map<String, Object> spec = (Map<String, Object>) rule.getAdditionalProperties().get("spec");
        List<Map<String, Object>> rules = (List<Map<String, Object>>) ((List<Map<String, Object>>) spec.get("groups")).get(0).get("rules");
        Set<String> alerts = rules.stream().map(r -> (String) r.get("alert")).collect(Collectors.toSet());
        assertEquals(RulesFile.alertNames(), alerts);
        for (Map<String, Object> r : rules) {
            String url = (String) ((Map<String, Object>) r.get("annotations")).get("runbook_url");
            assertEquals("https://runbooks.example.com/tandem/" + r.get("alert") + ".md", url);
        }
    }

    @Test
    void dashboardConfigMapShipsTheDashboardJsonUnchanged() {
        ConfigMap cm = PRODUCTION.get(ConfigMap.class, "orders-dashboard");
        assertEquals("1", cm.getMetadata().getLabels().get("grafana_dashboard"));
        assertEquals("Databases", cm.getMetadata().getAnnotations().get("grafana_folder"));
        assertEquals(Chart.read(Chart.chartDir().resolve("dashboards/tandem.json")).strip(), cm.getData().get("tandem.json").strip());
    }

    @Test
    void everyObjectCarriesTheCommonLabelsAndTheReleaseNamespace() {
        for (Chart.Rendered r : List.of(DEFAULTS, PRODUCTION)) {
            String release = r == DEFAULTS ? "tandem" : "orders";
            String ns = r == DEFAULTS ? "tandem" : "shop";
            for (HasMetadata o : r.objects()) {
                assertEquals("tandem", o.getMetadata().getLabels().get("app.kubernetes.io/name"), o.getKind());
                assertEquals(release, o.getMetadata().getLabels().get("app.kubernetes.io/instance"), o.getKind());
                assertEquals(ns, o.getMetadata().getNamespace(), o.getKind() + "/" + o.getMetadata().getName());
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    static List<PodTemplateSpec> podTemplates(Chart.Rendered r) {
        List<PodTemplateSpec> out = new ArrayList<>();
        r.all(StatefulSet.class).forEach(s -> out.add(s.getSpec().getTemplate()));
        r.all(Deployment.class).forEach(d -> out.add(d.getSpec().getTemplate()));
        assertEquals(3, out.size(), "replica StatefulSet, router and controller Deployments");
        return out;
    }

    static Container container(PodTemplateSpec t) {
        assertEquals(1, t.getSpec().getContainers().size());
        return t.getSpec().getContainers().get(0);
    }

    static EnvVar env(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " has no env " + name + ": "
                        + c.getEnv().stream().map(EnvVar::getName).toList()));
    }

    static String mountPath(Container c, String volume) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(volume)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume)).getMountPath();
    }

    private static void assertProbe(Probe p, String path, String what) {
        assertNotNull(p, what);
        assertEquals(path, p.getHttpGet().getPath(), what);
        assertEquals("http", p.getHttpGet().getPort().getStrVal(), what);
    }

    private static Map<String, String> with(Map<String, String> m, String k, String v) {
        Map<String, String> out = new java.util.HashMap<>(m);
        out.put(k, v);
        return out;
    }

    private static Map<String, String> without(Map<String, String> m, String k) {
        Map<String, String> out = new java.util.HashMap<>(m);
        out.remove(k);
        return out;
    }

    private static Set<String> names(List<? extends HasMetadata> objects) {
        return objects.stream().map(o -> o.getMetadata().getName()).collect(Collectors.toSet());
    }
}
