package dev.tandem.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The alert rules (helm/tandem/files/tandem-rules.yaml = deploy/prometheus/tandem-rules.yaml). */
final class RulesFile {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private RulesFile() {}

    static Path chartRules() {
        return Chart.chartDir().resolve("files/tandem-rules.yaml");
    }

    static Path plainRules() {
        return Chart.repoRoot().resolve("deploy/prometheus/tandem-rules.yaml");
    }

    static Path unitTests() {
        return Chart.repoRoot().resolve("deploy/prometheus/tandem-rules.test.yaml");
    }

    static JsonNode read(Path p) {
        try {
            return YAML.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<JsonNode> rules() {
        List<JsonNode> out = new ArrayList<>();
        read(chartRules()).get("groups").forEach(g -> g.get("rules").forEach(out::add));
        return out;
    }

    static Set<String> alertNames() {
        Set<String> names = new LinkedHashSet<>();
        rules().forEach(r -> names.add(r.get("alert").asText()));
        return names;
    }
}
