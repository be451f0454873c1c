package dev.tandem.cli.chaos;

import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Netns;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A chaos run whose replicas can be partitioned: creates the run's network namespaces
 * ({@link Netns}), runs this same command again inside the hub namespace (so the supervisor,
 * controller, router and clients all reach the replicas at their namespace addresses), and
 * removes everything afterwards: on a normal end, on an error, and from a shutdown hook on
 * Ctrl-C or SIGTERM. The outer process only sets up, waits and cleans up.
 */
final class NamespaceRun {

    /** How long the copy in the hub gets to exit on SIGTERM before SIGKILL. */
    static final Duration CHILD_GRACE = Duration.ofSeconds(15);

    private final Netns.Layout layout;
    private final Path clusterDir;
    private final PrintStream out;
    private final AtomicBoolean tornDown = new AtomicBoolean();
    private final Thread hook;
    private volatile Process child;

    NamespaceRun(Netns.Layout layout, Path clusterDir, PrintStream out) {
        this.layout = layout;
        this.clusterDir = clusterDir;
        this.out = out;
        this.hook = new Thread(this::tearDown, "chaos-netns-cleanup");
    }

    /** Registers the cleanup hook, removes stale namespaces of dead runs and creates ours; throws if that fails. */
    void setUp() {
        Runtime.getRuntime().addShutdownHook(hook);
        Netns.create(layout, out);
        out.println("chaos: created network namespaces " + Netns.describe(layout) + "; running the chaos run inside " + layout.hub());
    }

    /** Runs {@code args} ({@code chaos ... --netns-prefix P}) inside the hub; its exit status, after cleaning up. */
    int run(List<String> args) throws InterruptedException {
        try {
            List<String> cmd = command(Netns.ipBinary().orElseThrow(), layout.hub(),
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    ManagementFactory.getRuntimeMXBean().getInputArguments(), System.getProperty("java.class.path"), args);
            try {
                child = new ProcessBuilder(cmd).inheritIO().redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot run the chaos run in " + layout.hub() + ": " + e.getMessage(), e);
            }
            return child.waitFor();
        } finally {
            tearDown();
        }
    }

    /**
     * {@code ip netns exec HUB java JVM-ARGS -cp CP dev.tandem.cli.TandemCli ARGS}. A debugger
     * agent is left out (its port is taken by this JVM). Pure.
     */
    static List<String> command(String ip, String hub, String java, List<String> jvmArgs, String classpath, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(ip, "netns", "exec", hub, java));
        for (String a : jvmArgs) {
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp")) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-cp", classpath, "dev.tandem.cli.TandemCli"));
        cmd.addAll(args);
        return cmd;
    }

    /**
     * Once: stops the copy in the hub if it still runs, stops a cluster it left running (by the
     * supervisor's PID), and deletes the namespaces, killing by PID anything still inside.
     */
    void tearDown() {
        if (!tornDown.compareAndSet(false, true)) {
            return;
        }
        try {
            Process c = child;
            if (c != null && c.isAlive()) {
                c.destroy();
                if (!c.waitFor(CHILD_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                    c.destroyForcibly();
                    c.waitFor(5, TimeUnit.SECONDS);
                }
            }
            // The copy stops its cluster itself; one left behind (it was killed) was started in our namespaces.
            if (LocalCluster.find(clusterDir).isPresent()) {
                LocalCluster.down(clusterDir, false, out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            out.println("chaos: stopping the cluster in " + clusterDir + " failed: " + e.getMessage() + " (its processes are killed with the namespaces)");
        } finally {
            List<String> left = Netns.delete(layout);
            if (left.isEmpty()) {
                out.println("chaos: removed network namespaces " + Netns.describe(layout));
            } else {
                out.println("chaos: could not remove network namespaces " + left + ": remove them with 'ip netns delete NAME'");
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: this is the hook
            }
        }
    }
}
