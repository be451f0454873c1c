package dev.tandem.deploy;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** Runs Debian's promtool (package prometheus, installed by bin/install-test-deps). */
final class Promtool {

    record Result(int exitCode, String output) {}

    private Promtool() {}

    /** The binary on PATH; a missing promtool is a failure, never a silent pass. */
    static Path binary(String name) {
        return find(name).orElseGet(() -> fail(name + " not found on PATH. It comes from the Debian package `prometheus`: run "
                + "bin/install-test-deps (CI does), or apt-get install prometheus."));
    }

    /** The binary on PATH, else in /usr/bin or /usr/local/bin; empty when none is executable. */
    static Optional<Path> find(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        for (Path p : List.of(Path.of("/usr/bin", name), Path.of("/usr/local/bin", name))) {
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    static Result run(Path workDir, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary("promtool").toString());
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return fail("promtool timed out: " + cmd);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return fail("cannot run " + cmd + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted");
        }
    }
}
