package dev.tandem.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HelmLintTest {

    @Test
    void chartPassesStrictLintWithDefaultValues() {
        LintResult result = new Helm(Chart.chartDir()).lint().strict().call();
        assertFalse(result.isFailed(), () -> "helm lint --strict failed:\n" + String.join("\n", result.getMessages()));
    }

    @Test
    void chartRendersWithDefaultAndProductionValues() {
        String defaults = Chart.template("tandem", "tandem", List.of(), Map.of());
        String production = Chart.template("orders", "shop", List.of(Chart.productionValues()), Map.of());
        assertTrue(defaults.contains("kind: StatefulSet"), defaults);
        assertTrue(production.contains("kind: PrometheusRule"), production);
    }

    @Test
    void refusesAnUnknownWriteConcern() {
        Exception e = assertThrows(Exception.class,
                () -> Chart.template("tandem", "tandem", List.of(), Map.of("cluster.defaultWriteConcern", "quorum")));
        assertTrue(String.valueOf(e.getMessage()).contains("write concern must be one of"), e::getMessage);
    }

    @Test
    void refusesAShortClusterSecret() {
        Exception e = assertThrows(Exception.class,
                () -> Chart.template("tandem", "tandem", List.of(), Map.of("cluster.secret.value", "short")));
        assertTrue(String.valueOf(e.getMessage()).contains("at least 16 characters"), e::getMessage);
    }

    @Test
    void refusesAReleaseNameTooLongForDerivedNames() {
        Exception e = assertThrows(Exception.class,
                () -> Chart.template("a".repeat(41), "tandem", List.of(), Map.of()));
        assertTrue(String.valueOf(e.getMessage()).contains("longer than 40 characters"), e::getMessage);
    }

    @Test
    void refusesAnUnknownSecretMode() {
        Exception e = assertThrows(Exception.class,
                () -> Chart.template("tandem", "tandem", List.of(), Map.of("cluster.secret.mode", "vault")));
        assertTrue(String.valueOf(e.getMessage()).contains("cluster.secret.mode must be env or file"), e::getMessage);
    }
}
