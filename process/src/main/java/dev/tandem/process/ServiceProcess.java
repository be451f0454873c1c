package dev.tandem.process;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One Tandem service (a Quarkus fast-jar) running as its own OS process on a loopback port.
 * Everything is addressed by PID: we start it, signal it (SIGKILL, SIGSTOP, SIGCONT) and stop
 * it ourselves, never by process name.
 */
public final class ServiceProcess implements AutoCloseable {

    /** How long a graceful stop may take before the process is killed. */
    public static final Duration STOP_GRACE = Duration.ofSeconds(10);

    private final Spec spec;
    private Process process;

    /**
     * What to run: {@code jar} with {@code -D} properties (Quarkus config), on {@code port},
     * logging to {@code logFile}.
     */
    public record Spec(String name, Path jar, int port, Map<String, String> properties, Map<String, String> env,
                       Path logFile, List<String> jvmArgs) {
        public Spec {
            properties = Map.copyOf(properties);
            env = Map.copyOf(env);
            jvmArgs = List.copyOf(jvmArgs);
        }

        public static Spec of(String name, Path jar, int port, Path logFile) {
            return new Spec(name, jar, port, Map.of(), Map.of(), logFile, defaultJvmArgs());
        }

        public Spec withProperty(String key, String value) {
            Map<String, String> p = new LinkedHashMap<>(properties);
            p.put(key, value);
            return new Spec(name, jar, port, p, env, logFile, jvmArgs);
        }

        public Spec withEnv(String key, String value) {
            Map<String, String> e = new LinkedHashMap<>(env);
            e.put(key, value);
            return new Spec(name, jar, port, properties, e, logFile, jvmArgs);
        }
    }

    /** System property whose space-separated JVM options replace {@link #DEFAULT_JVM_ARGS} (benchmarks compare collectors with it). */
    public static final String JVM_ARGS_PROPERTY = "tandem.service-jvm-args";

    /**
     * A small heap, so that five JVMs fit a laptop, and G1 rather than the serial collector: a
     * replica keeps tens of MB of middle-aged objects (recent log entries, the idempotency window,
     * recent key states) that die in the old generation, which the serial collector cleared with
     * full collections of 100-180 ms under load (docs/benchmarks.md, Garbage collection).
     */
    public static final String DEFAULT_JVM_ARGS = "-Xmx256m -XX:+UseG1GC";

    /** JVM options of every service started here: {@link #DEFAULT_JVM_ARGS} unless {@link #JVM_ARGS_PROPERTY} is set. */
    public static List<String> defaultJvmArgs() {
        String args = System.getProperty(JVM_ARGS_PROPERTY, DEFAULT_JVM_ARGS).trim();
        return args.isEmpty() ? List.of() : List.of(args.split("\\s+"));
    }

    public ServiceProcess(Spec spec) {
        this.spec = spec;
    }

    public Spec spec() {
        return spec;
    }

    public String name() {
        return spec.name();
    }

    public int port() {
        return spec.port();
    }

    public String address() {
        return "127.0.0.1:" + spec.port();
    }

    public String httpUrl() {
        return "http://" + address();
    }

    /** Starts the process (logs appended to the log file). */
    public synchronized ServiceProcess start() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(spec.name() + " already running as pid " + process.pid());
        }
        if (!Files.isRegularFile(spec.jar())) {
            throw new IllegalStateException(spec.jar() + " not found: build it first (./mvnw -DskipTests package)");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(spec.jvmArgs());
        cmd.add("-Dquarkus.http.port=" + spec.port());
        cmd.add("-Dquarkus.http.host=127.0.0.1");
        spec.properties().forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-jar");
        cmd.add(spec.jar().toString());
        try {
            Files.createDirectories(spec.logFile().toAbsolutePath().getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(spec.logFile().toFile()));
            pb.environment().putAll(spec.env());
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + spec.name(), e);
        }
        return this;
    }

    public synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    public synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** Waits until {@code GET path} answers 200, or fails with the tail of the log. */
    public ServiceProcess awaitHttpOk(String path, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!isAlive()) {
                throw new IllegalStateException(spec.name() + " exited with " + process.exitValue() + "; log tail:\n" + logTail(40));
            }
            if (httpStatus(path) == 200) {
                return this;
            }
            sleep(50);
        }
        throw new IllegalStateException(spec.name() + " not answering 200 on " + path + " after " + timeout + "; log tail:\n" + logTail(40));
    }

    /** The HTTP status of {@code GET path}, or -1 when nothing answers. */
    public int httpStatus(String path) {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(httpUrl() + path).toURL().openConnection();
            c.setConnectTimeout(500);
            c.setReadTimeout(2000);
            try {
                return c.getResponseCode();
            } finally {
                c.disconnect();
            }
        } catch (IOException e) {
            return -1;
        }
    }

    /** SIGKILL: the crash the design must survive. */
    public synchronized void kill() {
        if (process != null) {
            process.destroyForcibly();
            waitFor(Duration.ofSeconds(10));
        }
    }

    /** SIGTERM, then SIGKILL after {@link #STOP_GRACE}. */
    public synchronized void stop() {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!waitFor(STOP_GRACE)) {
                kill();
            }
        }
    }

    /** SIGSTOP: the process keeps its sockets but answers nothing (a hung or very slow node). */
    public void pause() {
        signal("STOP");
    }

    /** SIGCONT after {@link #pause()}. */
    public void resume() {
        signal("CONT");
    }

    private void signal(String sig) {
        long pid = pid();
        if (pid < 0) {
            throw new IllegalStateException(spec.name() + " is not running");
        }
        try {
            Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true).start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("kill -" + sig + " " + pid + " failed: " + new String(p.getInputStream().readAllBytes()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private boolean waitFor(Duration d) {
        try {
            return process.waitFor(d.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The last {@code lines} lines of the log, for failure messages. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(spec.logFile());
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        stop();
    }

    /**
     * The fast-jar of a Tandem module, found from the working directory of a module's tests or
     * from the repository root.
     */
    /**
     * Hard-links (copies where links fail) the fast-jar directory of {@code jar} into {@code dir}
     * and returns the jar there: a test keeps running the files of that moment while another
     * build re-packages the module (a half-written quarkus-app/ makes a service fail to start).
     */
    public static Path snapshotFastJar(Path jar, Path dir) {
        Path app = jar.getParent();
        try (var files = Files.walk(app)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = dir.resolve(app.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.deleteIfExists(to); // a retry after a partial snapshot
                    try {
                        Files.createLink(to, f);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(f, to);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot snapshot " + app, e);
        }
        return dir.resolve(jar.getFileName().toString());
    }

    /**
     * Properties from {@code "k=v,k=v"} (blank: none), as benchmarks take settings for the
     * processes they start; a part without '=' is refused with its text.
     */
    public static Map<String, String> propertiesFrom(String list) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String kv : list.split(",")) {
            if (kv.isBlank()) {
                continue;
            }
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got '" + kv.trim() + "' in '" + list + "'");
            }
            out.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        return out;
    }

    public static Path moduleJar(String module) {
        for (Path base : List.of(Path.of(".."), Path.of("."))) {
            Path jar = base.resolve(module).resolve("target/quarkus-app/quarkus-run.jar").toAbsolutePath().normalize();
            if (Files.isRegularFile(jar)) {
                return jar;
            }
        }
        return Path.of("..", module, "target/quarkus-app/quarkus-run.jar").toAbsolutePath().normalize();
    }
}
