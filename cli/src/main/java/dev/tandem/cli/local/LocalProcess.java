package dev.tandem.cli.local;

import dev.tandem.process.ServiceProcess;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One service process as the supervisor runs it. On loopback it is a plain
 * {@link ServiceProcess}; in a network namespace the same Java command line runs under
 * {@code ip netns exec NS} (which execs it: the PID is the JVM's, and its command line still
 * carries {@code -Dquarkus.http.port=P}, so {@link Pids#portMarker} finds it) and listens on
 * the service's host instead of 127.0.0.1.
 */
final class LocalProcess {

    private final ServiceProcess.Spec spec;
    private final String host;
    private final String netns;
    private final ServiceProcess plain;
    private Process process;

    LocalProcess(ServiceProcess.Spec spec, String host, String netns) {
        this.spec = spec;
        this.host = host;
        this.netns = netns;
        this.plain = netns == null ? new ServiceProcess(spec) : null;
    }

    String name() {
        return spec.name();
    }

    /**
     * The command line of a service placed in {@code netns} at {@code host}: what
     * {@link ServiceProcess} runs, behind {@code ip netns exec}. Pure.
     */
    static List<String> command(String ip, String java, ServiceProcess.Spec spec, String host, String netns) {
        List<String> cmd = new ArrayList<>(List.of(ip, "netns", "exec", netns, java));
        cmd.addAll(spec.jvmArgs());
        cmd.add("-Dquarkus.http.port=" + spec.port());
        cmd.add("-Dquarkus.http.host=" + host);
        spec.properties().forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-jar");
        cmd.add(spec.jar().toString());
        return cmd;
    }

    synchronized void start() {
        if (plain != null) {
            plain.start();
            return;
        }
        if (!Files.isRegularFile(spec.jar())) {
            throw new IllegalStateException(spec.jar() + " not found: build it first (./mvnw -DskipTests package)");
        }
        String ip = Netns.ipBinary().orElseThrow(() -> new IllegalStateException("iproute2 ('ip') not found: cannot run "
                + spec.name() + " in network namespace " + netns));
        List<String> cmd = command(ip, Path.of(System.getProperty("java.home"), "bin", "java").toString(), spec, host, netns);
        try {
            Files.createDirectories(spec.logFile().toAbsolutePath().getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(spec.logFile().toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(spec.env());
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + spec.name() + " in " + netns, e);
        }
    }

    synchronized long pid() {
        return plain != null ? plain.pid() : process == null ? -1 : process.pid();
    }

    synchronized boolean isAlive() {
        return plain != null ? plain.isAlive() : process != null && process.isAlive();
    }

    /** SIGTERM, then SIGKILL after {@link ServiceProcess#STOP_GRACE}. */
    void stop() {
        if (plain != null) {
            plain.stop();
            return;
        }
        Process p;
        synchronized (this) {
            p = process;
        }
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(ServiceProcess.STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
    }
}
