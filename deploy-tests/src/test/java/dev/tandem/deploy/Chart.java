package dev.tandem.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Renders helm/tandem through helm-java (an embedded Helm, no CLI) and parses the result with
 * fabric8, so that tests assert on typed Kubernetes objects rather than on YAML text.
 */
final class Chart {

    static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    /** The Kubernetes version templates are rendered for (helm-java defaults to 1.20, below the chart's floor). */
    static final String KUBE_VERSION = "1.31.0";
    private static final Pattern DOC_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    private Chart() {}

    /** The repository root (set by the pom; falls back to the parent of the module dir). */
    static Path repoRoot() {
        String p = System.getProperty("tandem.repo.root");
        Path root = p != null && !p.isBlank() ? Path.of(p) : Path.of("..");
        root = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("helm/tandem"))) {
            throw new IllegalStateException("cannot find helm/tandem under " + root);
        }
        return root;
    }

    static Path chartDir() {
        return repoRoot().resolve("helm/tandem");
    }

    static Path productionValues() {
        return chartDir().resolve("ci/production-values.yaml");
    }

    /** helm template with the given release, namespace, values files and --set pairs. */
    static String template(String release, String namespace, List<Path> valuesFiles, Map<String, Object> sets) {
        HelmCluster.client();
        TemplateCommand cmd = new Helm(chartDir()).template().withName(release).withNamespace(namespace)
                .withKubeVersion(KUBE_VERSION);
        for (Path f : valuesFiles) {
            cmd = cmd.withValuesFile(f);
        }
        for (Map.Entry<String, Object> e : sets.entrySet()) {
            cmd = cmd.set(e.getKey(), e.getValue());
        }
        return cmd.call();
    }

    static Rendered render(String release, String namespace, List<Path> valuesFiles, Map<String, Object> sets) {
        return Rendered.parse(template(release, namespace, valuesFiles, sets));
    }

    static Rendered renderDefaults() {
        return render("tandem", "tandem", List.of(), Map.of());
    }

    static Rendered renderProduction() {
        return render("orders", "shop", List.of(productionValues()), Map.of());
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The objects of one rendering, looked up by kind and name. */
    record Rendered(String yaml, List<HasMetadata> objects) {

        static Rendered parse(String yaml) {
            List<HasMetadata> objects = new ArrayList<>();
            for (String doc : DOC_SEPARATOR.split(yaml)) {
                String body = doc.lines().filter(l -> !l.startsWith("#")).collect(Collectors.joining("\n")).trim();
                if (body.isEmpty()) {
                    continue;
                }
                objects.add(SERIALIZATION.unmarshal(doc, HasMetadata.class));
            }
            return new Rendered(yaml, List.copyOf(objects));
        }

        <T extends HasMetadata> List<T> all(Class<T> type) {
            return objects.stream().filter(type::isInstance).map(type::cast).toList();
        }

        List<HasMetadata> ofKind(String kind) {
            return objects.stream().filter(o -> kind.equals(o.getKind())).toList();
        }

        <T extends HasMetadata> Optional<T> find(Class<T> type, String name) {
            return all(type).stream().filter(o -> name.equals(o.getMetadata().getName())).findFirst();
        }

        <T extends HasMetadata> T get(Class<T> type, String name) {
            return find(type, name).orElseThrow(() -> new AssertionError(
                    "no " + type.getSimpleName() + " named " + name + "; rendered: " + summary()));
        }

        String summary() {
            return objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).collect(Collectors.joining(", "));
        }

        Map<String, HasMetadata> byKindAndName() {
            Map<String, HasMetadata> m = new LinkedHashMap<>();
            objects.forEach(o -> m.put(o.getKind() + "/" + o.getMetadata().getName(), o));
            return m;
        }
    }
}
