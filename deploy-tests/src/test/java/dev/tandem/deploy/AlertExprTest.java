package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The operands PrometheusScrapeIT queries for each alert (see {@link AlertExpr}). */
class AlertExprTest {

    @Test
    void splitsOrBranchesDropsThresholdsAndUnwrapsAbsent() {
        assertEquals(List.of("sum by (namespace, tandem_cluster) (tandem_replica_is_leader)", "tandem_replica_is_leader"),
                AlertExpr.operands("(sum by (namespace, tandem_cluster) (tandem_replica_is_leader) < 1)\nor\nabsent(tandem_replica_is_leader)\n"));
        assertEquals(List.of("up{job=\"replica\"}"), AlertExpr.operands("up{job=\"replica\"} == 0"));
        assertEquals(List.of("max by (f) (x)"), AlertExpr.operands("max by (f) (x) > bool 1e1"));
        assertEquals(List.of("sum(rate(x[5m])) / sum(rate(y[5m]))"), AlertExpr.operands("sum(rate(x[5m])) / sum(rate(y[5m]))"),
                "no threshold: unchanged");
        assertEquals(List.of("x{a=\"or\"} > y"), AlertExpr.operands("x{a=\"or\"} > y"), "comparison with a vector is kept");
        assertEquals(List.of("sum by (r) (x unless x offset 15m)"), AlertExpr.operands("(sum by (r) (x unless x offset 15m) > 0)"));
    }

    @Test
    void everyShippedAlertHasOperandsWithoutThresholds() {
        for (JsonNode rule : RulesFile.rules()) {
            String expr = rule.get("expr").asText();
            List<String> ops = AlertExpr.operands(expr);
            assertFalse(ops.isEmpty(), expr);
            for (String op : ops) {
                assertFalse(op.isBlank(), rule.get("alert").asText() + ": " + ops);
                assertTrue(op.contains("tandem_") || op.startsWith("up"), rule.get("alert").asText() + ": " + op);
                assertEquals(op, AlertExpr.stripComparison(op), rule.get("alert").asText() + " operand still compares: " + op);
                assertFalse(op.startsWith("absent("), op);
            }
        }
    }
}
