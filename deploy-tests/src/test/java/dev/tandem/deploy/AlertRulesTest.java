package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Alert rules and dashboard PromQL, checked by promtool and against docs/conventions.md. */
class AlertRulesTest {

    static final Set<String> REQUIRED_ALERTS = Set.of("TandemNoLeader", "TandemReplicationLagHigh", "TandemReplicaDown",
            "TandemFailoverHappened", "TandemRolledBackEntries", "TandemTwoLeaders", "TandemControllerNotElected");

    @Test
    void promtoolAcceptsTheRules() {
        Promtool.Result r = Promtool.run(RulesFile.plainRules().getParent(), "check", "rules", "tandem-rules.yaml");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("SUCCESS: " + RulesFile.alertNames().size() + " rules found"), r.output());
    }

    @Test
    void promtoolUnitTestsOfEveryAlertPass() {
        Promtool.Result r = Promtool.run(RulesFile.unitTests().getParent(), "test", "rules", "tandem-rules.test.yaml");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("SUCCESS"), r.output());
    }

    @Test
    void everyRequiredAlertExists() {
        Set<String> missing = new TreeSet<>(REQUIRED_ALERTS);
        missing.removeAll(RulesFile.alertNames());
        assertEquals(Set.of(), missing, "required alerts missing from the rules");
    }

    /** Each alert has a unit test where it must fire and one where it must stay quiet. */
    @Test
    void everyAlertIsUnitTestedBothFiringAndQuiet() {
        Set<String> firing = new HashSet<>();
        Set<String> quiet = new HashSet<>();
        JsonNode tests = RulesFile.read(RulesFile.unitTests());
        assertEquals("tandem-rules.yaml", tests.get("rule_files").get(0).asText());
        for (JsonNode t : tests.get("tests")) {
            for (JsonNode e : t.path("alert_rule_test")) {
                String alert = e.get("alertname").asText();
                (e.path("exp_alerts").isEmpty() ? quiet : firing).add(alert);
            }
        }
        for (String alert : RulesFile.alertNames()) {
            assertTrue(firing.contains(alert), alert + " has no unit test where it fires");
            assertTrue(quiet.contains(alert), alert + " has no unit test where it stays quiet");
        }
    }

    @Test
    void everyAlertLinksARunbookThatExists() throws IOException {
        for (JsonNode rule : RulesFile.rules()) {
            String alert = rule.get("alert").asText();
            String url = rule.path("annotations").path("runbook_url").asText();
            assertTrue(url.endsWith("/docs/runbooks/" + alert + ".md"), alert + ": " + url);
            Path runbook = Chart.repoRoot().resolve("docs/runbooks/" + alert + ".md");
            assertTrue(Files.exists(runbook), "missing runbook " + runbook);
            String text = Files.readString(runbook);
            assertTrue(text.contains(alert), runbook + " does not name its alert");
            assertTrue(rule.path("labels").has("severity"), alert + " has no severity");
            assertTrue(rule.path("annotations").has("summary") && rule.path("annotations").has("description"), alert);
        }
    }

    @Test
    void dashboardQueriesAreValidPromql() throws IOException {
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        int i = 0;
        for (Dashboard.Query q : Dashboard.queries()) {
            rules.append("      - record: dashboard:query_").append(i++).append("\n        expr: ")
                    .append(RulesFile.YAML.writeValueAsString(Dashboard.concrete(q.expr())).replaceFirst("^---\\s*", "").strip())
                    .append('\n');
        }
        Path dir = Files.createDirectories(Path.of("target/promql"));
        Files.writeString(dir.resolve("dashboard-queries.yaml"), rules);
        Promtool.Result r = Promtool.run(dir, "check", "rules", "dashboard-queries.yaml");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("SUCCESS: " + i + " rules found"), r.output());
    }

    @Test
    void dashboardAndRulesUseOnlyMetricsFromTheConventions() {
        Set<String> known = conventionMetrics();
        assertTrue(known.size() >= 30, "could not read the metric tables from conventions.md: " + known);
        Set<String> used = new TreeSet<>();
        Dashboard.queries().forEach(q -> used.addAll(Dashboard.metrics(q.expr())));
        RulesFile.rules().forEach(r -> used.addAll(Dashboard.metrics(r.get("expr").asText())));
        used.removeAll(known);
        assertEquals(Set.of(), used, "metrics used but not defined in docs/conventions.md");
    }

    @Test
    void dashboardHasThePanelsSresNeed() {
        List<Dashboard.Query> qs = Dashboard.queries();
        assertPanel(qs, "tandem_replica_follower_lag_seconds", "by (follower)");
        assertPanel(qs, "tandem_replica_flushed_lsn", "");
        assertPanel(qs, "tandem_replica_applied_lsn", "");
        assertPanel(qs, "tandem_replica_received_lsn", "");
        assertPanel(qs, "tandem_replica_role", "");
        assertPanel(qs, "tandem_replica_epoch", "");
        assertPanel(qs, "tandem_replica_write_concern_wait_seconds_bucket", "concern");
        assertPanel(qs, "tandem_router_requests_total", "served_role");
        assertPanel(qs, "tandem_router_leader_fallbacks_total", "reason");
        assertPanel(qs, "tandem_controller_failovers_total", "");
        assertPanel(qs, "tandem_controller_failover_duration_seconds_bucket", "");
        assertPanel(qs, "tandem_replica_rollback_entries_total", "");
    }

    /** docs/metrics.md describes every metric that conventions.md defines. */
    @Test
    void metricsReferenceDocumentsEveryMetric() throws IOException {
        String doc = Files.readString(Chart.repoRoot().resolve("docs/metrics.md"));
        Set<String> missing = new TreeSet<>();
        for (String m : conventionMetrics()) {
            if (!doc.contains("`" + m + "`")) {
                missing.add(m);
            }
        }
        assertEquals(Set.of(), missing, "docs/metrics.md lacks these metrics");
    }

    private static void assertPanel(List<Dashboard.Query> qs, String metric, String mustContain) {
        assertTrue(qs.stream().anyMatch(q -> q.expr().contains(metric) && q.expr().contains(mustContain)),
                "no dashboard query on " + metric + " containing '" + mustContain + "'");
    }

    /** Metric names from the metric tables of docs/conventions.md. */
    static Set<String> conventionMetrics() {
        String text = Chart.read(Chart.repoRoot().resolve("docs/conventions.md"));
        String section = text.substring(text.indexOf("## Metrics"));
        Set<String> out = new LinkedHashSet<>();
        Matcher m = Pattern.compile("`(tandem_[a-z0-9_]+)`").matcher(section);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }
}
