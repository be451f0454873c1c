package dev.tandem.cli.local;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the Tandem checkout is, and the service jars and CLI jar in it. */
public final class Repo {

    private Repo() {}

    /**
     * The repository root: {@code -Dtandem.home} (set by bin/tandem), {@code -Dtandem.repo.root}
     * (set by the build for tests), else the nearest parent of the working directory holding mvnw.
     */
    public static Path root() {
        for (String prop : new String[] {"tandem.home", "tandem.repo.root"}) {
            String v = System.getProperty(prop);
            if (v != null && !v.isBlank()) {
                return Path.of(v).toAbsolutePath().normalize();
            }
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null) {
            if (Files.isRegularFile(p.resolve("mvnw")) && Files.isDirectory(p.resolve("cli"))) {
                return p;
            }
            p = p.getParent();
        }
        throw new IllegalStateException("cannot find the Tandem checkout from " + Path.of("").toAbsolutePath()
                + ": run bin/tandem from inside it");
    }

    public static Path serviceJar(String module) {
        return root().resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
    }

    public static Path defaultClusterDir() {
        return root().resolve(".tandem");
    }

    /** The jar holding this CLI with its dependencies, used to start the detached supervisor. */
    public static String cliClasspath() {
        try {
            Path self = Path.of(Repo.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            // Only the shaded jar carries the dependencies; the plain module jar (as tests see it) does not.
            if (Files.isRegularFile(self) && self.toString().endsWith("-all.jar")) {
                return self.toString();
            }
        } catch (Exception e) {
            // fall through to the build output
        }
        Path target = root().resolve("cli/target");
        try (var files = Files.list(target)) {
            return files.filter(f -> f.getFileName().toString().matches("tandem-cli-.*-all\\.jar")).findFirst()
                    .map(Path::toString).orElseGet(() -> System.getProperty("java.class.path"));
        } catch (java.io.IOException e) {
            return System.getProperty("java.class.path");
        }
    }
}
