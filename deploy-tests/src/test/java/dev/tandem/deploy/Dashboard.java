package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The Grafana dashboard (helm/tandem/dashboards/tandem.json) and the PromQL inside it. */
final class Dashboard {

    record Query(String panel, String expr) {}

    private static final Pattern METRIC = Pattern.compile("\\b(tandem_[a-z0-9_]+)");

    /** Label names that share the prefix (added by the ServiceMonitor relabelling). */
    private static final Set<String> LABELS = Set.of("tandem_cluster");

    private Dashboard() {}

    static JsonNode json() {
        try {
            return new ObjectMapper().readTree(Chart.chartDir().resolve("dashboards/tandem.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Query> queries() {
        List<Query> out = new ArrayList<>();
        for (JsonNode p : json().get("panels")) {
            for (JsonNode t : p.path("targets")) {
                out.add(new Query(p.get("title").asText(), t.get("expr").asText()));
            }
        }
        return out;
    }

    /** Grafana's variables replaced by what "All" and a typical range mean, so Prometheus can run it. */
    static String concrete(String expr) {
        return expr.replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s")
                .replace("$namespace", ".*").replace("$cluster", ".*");
    }

    /** Metric names used in an expression, with histogram suffixes removed. */
    static Set<String> metrics(String expr) {
        Set<String> out = new LinkedHashSet<>();
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            if (!LABELS.contains(m.group(1))) {
                out.add(m.group(1).replaceAll("_(bucket|sum|count)$", ""));
            }
        }
        return out;
    }
}
