package dev.tandem.cli.local;

import dev.tandem.cli.local.ClusterDescription.Desired;
import dev.tandem.cli.local.ClusterDescription.Kind;
import dev.tandem.cli.local.ClusterDescription.Service;
import dev.tandem.process.ServiceProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The local kubelet: owns every service process of a local cluster and keeps the processes in the
 * state the description asks for. A service that exits while it should be running (a crash,
 * {@code local kill}) is restarted after {@link ClusterDescription#restartDelayMs()} with the same
 * port and data directory; one marked {@code stopped} ({@code local stop}) is stopped and left down.
 * It runs until the description file disappears or it gets SIGTERM, and stops every child on the way out.
 */
public final class Supervisor {

    /** How often the description is re-read and compared with the processes. */
    static final long RECONCILE_INTERVAL_MS = 100;

    private final DescriptionStore store;
    private final Map<String, LocalProcess> processes = new HashMap<>();
    private final Map<String, Long> exitedAtMs = new HashMap<>();
    private final ExecutorService stopper = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "stopper");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean running = true;

    public Supervisor(DescriptionStore store) {
        this.store = store;
    }

    public void run() {
        ClusterDescription d = store.update(x -> x.withSupervisorPid(ProcessHandle.current().pid()));
        log("supervising " + d.services().size() + " services in " + d.dir() + " (restart delay " + d.restartDelayMs() + " ms)");
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running = false;
            main.interrupt();
            stopAll();
        }, "supervisor-shutdown"));
        while (running) {
            Optional<ClusterDescription> current;
            try {
                current = store.read();
            } catch (RuntimeException e) {
                log("cannot read the description, retrying: " + e.getMessage());
                sleep(RECONCILE_INTERVAL_MS);
                continue;
            }
            if (current.isEmpty()) {
                log("description removed: stopping");
                break;
            }
            reconcile(current.get());
            sleep(RECONCILE_INTERVAL_MS);
        }
        running = false;
        stopAll();
    }

    private void reconcile(ClusterDescription d) {
        long now = System.currentTimeMillis();
        for (Service s : d.services()) {
            LocalProcess p = processes.get(s.name());
            boolean alive = p != null && p.isAlive();
            if (s.desired() == Desired.stopped) {
                if (alive) {
                    log(s.name() + " (pid " + p.pid() + ") stopped on purpose: stopping, will not restart");
                    processes.remove(s.name());
                    stopper.submit(p::stop);
                }
                exitedAtMs.remove(s.name());
                continue;
            }
            if (alive) {
                continue;
            }
            if (p != null && !exitedAtMs.containsKey(s.name())) {
                exitedAtMs.put(s.name(), now);
                log(s.name() + " (pid " + p.pid() + ") exited: restarting in " + d.restartDelayMs() + " ms");
            }
            Long exitedAt = exitedAtMs.get(s.name());
            if (exitedAt != null && now - exitedAt < d.restartDelayMs()) {
                continue;
            }
            start(d, s, p != null);
        }
    }

    private void start(ClusterDescription d, Service s, boolean restart) {
        LocalProcess p = new LocalProcess(spec(d, s), s.host(), s.netns());
        try {
            p.start();
        } catch (RuntimeException e) {
            log("cannot start " + s.name() + ": " + e.getMessage() + "; retrying after the restart delay");
            exitedAtMs.put(s.name(), System.currentTimeMillis());
            return;
        }
        processes.put(s.name(), p);
        exitedAtMs.remove(s.name());
        long pid = p.pid();
        store.update(x -> x.withService(s.name(), old -> restart ? old.restarted(pid) : old.withPid(pid)));
        log((restart ? "restarted " : "started ") + s.name() + " as pid " + pid + " on " + s.address()
                + (s.netns() == null ? "" : " in network namespace " + s.netns()));
    }

    /** The command line of a service: the flags docs/conventions.md fixes for each kind. */
    static ServiceProcess.Spec spec(ClusterDescription d, Service s) {
        Path log = Path.of(s.logFile());
        ServiceProcess.Spec spec;
        switch (s.kind()) {
            case replica:
                spec = ServiceProcess.Spec.of(s.name(), Repo.serviceJar("replica-service"), s.port(), log)
                        .withProperty("tandem.replica.id", s.name())
                        .withProperty("tandem.replica.data-dir", s.dataDir())
                        .withProperty("tandem.replica.default-write-concern", d.writeConcern());
                if (s.host() != null) {
                    // Others reach it at its namespace address, not at loopback (the default).
                    spec = spec.withProperty("tandem.replica.advertised-address", s.address());
                }
                break;
            case controller:
                spec = ServiceProcess.Spec.of(s.name(), Repo.serviceJar("failover-controller"), s.port(), log)
                        .withProperty("tandem.controller.replicas", d.replicaList())
                        .withProperty("tandem.controller.state.backend", "file")
                        .withProperty("tandem.controller.state.file", d.clusterStateFile().toString());
                break;
            case router:
                spec = ServiceProcess.Spec.of(s.name(), Repo.serviceJar("router-service"), s.port(), log)
                        .withProperty("tandem.router.replicas", d.replicaList());
                break;
            default:
                throw new IllegalStateException("unknown service kind " + s.kind());
        }
        // RocksDB, JNA and Vert.x unpack native code into the temp dir: keep it inside the cluster directory.
        spec = spec.withProperty("java.io.tmpdir", Path.of(d.dir(), "tmp", s.name()).toString());
        try {
            java.nio.file.Files.createDirectories(Path.of(d.dir(), "tmp", s.name()));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // Through the environment, not -D: a command line is visible to every user in ps.
        return spec.withEnv("TANDEM_CLUSTER_SECRET", d.secret());
    }

    private void stopAll() {
        synchronized (this) {
            List<LocalProcess> all = List.copyOf(processes.values());
            processes.clear();
            all.parallelStream().forEach(p -> {
                if (p.isAlive()) {
                    log("stopping " + p.name() + " (pid " + p.pid() + ")");
                    Pids.signalQuietly(p.pid(), "CONT");
                    p.stop();
                }
            });
        }
    }

    static void log(String message) {
        System.out.println(Instant.now() + " supervisor: " + message);
        System.out.flush();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops a supervisor process by PID (its shutdown hook stops the services). */
    public static boolean stop(long pid, Path dir, Duration grace) {
        Optional<ProcessHandle> p = Pids.find(pid, dir.toString());
        if (p.isEmpty()) {
            return false;
        }
        Pids.terminate(p.get(), grace);
        return true;
    }
}
