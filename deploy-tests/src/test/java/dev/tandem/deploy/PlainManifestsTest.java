package dev.tandem.deploy;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/ holds what the chart renders, for people who apply plain manifests. These tests keep
 * it in step: change the chart, then regenerate with
 * {@code ./mvnw -pl deploy-tests verify -Dtest=PlainManifestsTest -Dtandem.deploy.update=true}.
 */
class PlainManifestsTest {

    /** How deploy/tandem.yaml is rendered: defaults, except the secret comes from a Secret you create. */
    static final Map<String, Object> PLAIN_SETS = Map.of("cluster.secret.existingSecret", "tandem-cluster-secret");

    @Test
    void deployTandemYamlIsTheChartRenderedWithDefaults() throws IOException {
        String header = """
                # Tandem, rendered from helm/tandem with default values (release "tandem", namespace "tandem"),
                # except that the cluster secret comes from a Secret you create first (a secret committed to
                # a repository is no secret):
                #   kubectl create namespace tandem
                #   kubectl -n tandem create secret generic tandem-cluster-secret --from-literal=secret="$(openssl rand -hex 24)"
                #   kubectl -n tandem apply -f deploy/tandem.yaml
                # Generated: do not edit. deploy-tests (PlainManifestsTest) fails when it drifts from the chart.
                """;
        String expected = header + Chart.template("tandem", "tandem", List.of(), PLAIN_SETS).strip() + "\n";
        Path file = Chart.repoRoot().resolve("deploy/tandem.yaml");
        if (Boolean.getBoolean("tandem.deploy.update")) {
            Files.writeString(file, expected);
        }
        assertTrue(Files.exists(file), "deploy/tandem.yaml missing: regenerate with -Dtandem.deploy.update=true");
        assertEquals(expected, Files.readString(file),
                "deploy/tandem.yaml is out of step with helm/tandem: regenerate with -Dtandem.deploy.update=true");
        Chart.Rendered parsed = Chart.Rendered.parse(Files.readString(file));
        assertTrue(parsed.ofKind("Secret").isEmpty(), "plain manifests must not ship a secret value");
        assertEquals(1, parsed.ofKind("StatefulSet").size());
    }

    @Test
    void plainRulesFileIsTheChartsRulesFile() {
        assertEquals(Chart.read(RulesFile.chartRules()), Chart.read(RulesFile.plainRules()),
                "deploy/prometheus/tandem-rules.yaml must be a copy of helm/tandem/files/tandem-rules.yaml");
    }
}
