package dev.tandem.cli.local;

import dev.tandem.cli.client.ReplicaClient;
import dev.tandem.cli.client.RouterClient;
import dev.tandem.cli.local.ClusterDescription.Desired;
import dev.tandem.cli.local.ClusterDescription.Service;
import dev.tandem.common.ClusterSecret;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * A local cluster as the CLI, the chaos checker and the benchmark drive it: started through a
 * detached supervisor ({@code bin/tandem local supervise}), found again through its description
 * file, and acted on by PID.
 */
public final class LocalCluster implements AutoCloseable {

    /** How long {@code up} waits for every process to answer and a leader to take writes. */
    public static final Duration UP_TIMEOUT = Duration.ofSeconds(180);
    /** How long a supervisor gets to stop its services gracefully before SIGKILL. */
    public static final Duration DOWN_GRACE = Duration.ofSeconds(20);

    private final DescriptionStore store;
    private final Map<String, ReplicaClient> clients = new LinkedHashMap<>();

    private LocalCluster(DescriptionStore store) {
        this.store = store;
    }

    /** The running cluster in {@code dir}, if its supervisor is alive. */
    public static Optional<LocalCluster> find(Path dir) {
        DescriptionStore s = new DescriptionStore(dir);
        Optional<ClusterDescription> d = s.read();
        if (d.isEmpty() || Pids.find(d.get().supervisorPid(), s.dir().toString()).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new LocalCluster(s));
    }

    /** The cluster in {@code dir} for commands that act on it, with an error that says what to do if there is none. */
    public static LocalCluster require(Path dir) {
        return find(dir).orElseThrow(() -> new IllegalStateException("no local cluster running in " + dir.toAbsolutePath()
                + ": start one with bin/tandem local up" + (dir.toAbsolutePath().normalize().equals(Repo.defaultClusterDir()) ? "" : " --dir " + dir)));
    }

    public DescriptionStore store() {
        return store;
    }

    public ClusterDescription description() {
        return store.require();
    }

    public ClusterSecret secret() {
        return ClusterSecret.of(description().secret());
    }

    public String routerUrl() {
        return description().router().httpUrl();
    }

    public String controllerUrl() {
        return description().controller().httpUrl();
    }

    /**
     * Starts a cluster in {@code dir} (or restarts the one described there, keeping its data,
     * ports and secret), then waits until a leader takes writes through the router.
     */
    public static LocalCluster up(Path dir, int replicas, String writeConcern, long restartDelayMs, PrintStream out) {
        return up(dir, replicas, writeConcern, restartDelayMs, out, null);
    }

    /**
     * As {@link #up(Path, int, String, long, PrintStream)}, with every replica in its network
     * namespace of {@code layout} (null: all on loopback). The caller must run in the layout's hub
     * namespace, where the supervisor, controller and router then run too.
     */
    public static LocalCluster up(Path dir, int replicas, String writeConcern, long restartDelayMs, PrintStream out,
                                  Netns.Layout layout) {
        DescriptionStore store = new DescriptionStore(dir);
        Optional<LocalCluster> running = find(dir);
        if (running.isPresent()) {
            if (layout != null) {
                throw new IllegalStateException("a local cluster is already running in " + store.dir()
                        + ": replicas in network namespaces need a cluster started for them (stop it, or use another --dir)");
            }
            out.println("a local cluster is already running in " + store.dir());
            return running.get();
        }
        for (String module : List.of("replica-service", "router-service", "failover-controller")) {
            if (!Files.isRegularFile(Repo.serviceJar(module))) {
                throw new IllegalStateException(Repo.serviceJar(module) + " is missing: build the services with "
                        + "./mvnw -B -q -DskipTests package (bin/tandem does this on a fresh clone)");
            }
        }
        Optional<ClusterDescription> previous = store.read();
        if (previous.isPresent()) {
            ClusterDescription p = previous.get();
            if (p.replicas().size() != replicas) {
                throw new IllegalStateException(store.dir() + " holds a cluster of " + p.replicas().size() + " replicas, not "
                        + replicas + ": bin/tandem local down --purge to start afresh, or pick another --dir");
            }
            stopLeftovers(p);
            for (Service s : p.services()) {
                if (!portFree(s.port()) && (layout == null || s.kind() != ClusterDescription.Kind.replica)) {
                    throw new IllegalStateException("port " + s.port() + " of " + s.name() + " is taken by another process: "
                            + "bin/tandem local down --purge to start afresh with new ports");
                }
            }
            out.println("restarting the cluster kept in " + store.dir() + " (data kept; bin/tandem local down --purge starts afresh)");
            ClusterDescription restarted = p;
            for (Service s : p.services()) {
                restarted = restarted.withService(s.name(), x -> x.withDesired(Desired.running).withPid(0));
            }
            store.write(restarted.withSupervisorPid(0));
        } else {
            byte[] secret = new byte[24];
            new SecureRandom().nextBytes(secret);
            store.write(ClusterDescription.create(store.dir(), HexFormat.of().formatHex(secret), writeConcern, restartDelayMs,
                    replicas, dev.tandem.process.FreePorts::pick));
        }
        // Placed afresh every time: a cluster last run in (now deleted) namespaces comes back on loopback.
        store.update(d -> d.placed(layout));
        try {
            Files.createDirectories(store.dir().resolve("logs"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ClusterDescription d = store.require();
        out.println("starting " + d.replicas().size() + " replicas, a controller and a router in " + store.dir()
                + " (write concern " + d.writeConcern() + ")" + (layout == null ? "" : "; replicas in network namespaces "
                + Netns.describe(layout)));
        Process supervisor = startSupervisor(store);
        LocalCluster c = new LocalCluster(store);
        c.awaitUp(UP_TIMEOUT, out, supervisor);
        return c;
    }

    private static Process startSupervisor(DescriptionStore store) {
        List<String> cmd = new ArrayList<>();
        if (new File("/usr/bin/setsid").canExecute()) {
            // Its own session: closing the terminal that ran `local up` must not take the cluster down.
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-Xmx96m", "-XX:+UseSerialGC", "-cp", Repo.cliClasspath(), "-Dtandem.home=" + Repo.root(),
                "dev.tandem.cli.TandemCli", "local", "supervise", "--dir", store.dir().toString()));
        Path log = store.dir().resolve("logs/supervisor.log");
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the supervisor: " + e.getMessage(), e);
        }
    }

    private void awaitUp(Duration timeout, PrintStream out, Process supervisor) {
        long deadline = System.nanoTime() + timeout.toNanos();
        await("supervisor", deadline, () -> {
            if (!supervisor.isAlive()) {
                throw new IllegalStateException("the supervisor exited with " + supervisor.exitValue() + "; see "
                        + store.dir().resolve("logs/supervisor.log"));
            }
            return description().supervisorPid() > 0
                    && Pids.find(description().supervisorPid(), store.dir().toString()).isPresent();
        }, out);
        for (Service s : description().services()) {
            await(s.name() + " on " + s.address(), deadline, () -> httpStatus(s, "/q/health/live") == 200, out);
        }
        await("a leader accepting writes", deadline, () -> leaderInfo().isPresent(), out);
        await("the router", deadline, () -> httpStatus(description().router(), "/q/health/ready") == 200, out);
    }

    private void await(String what, long deadlineNanos, BooleanSupplier ready, PrintStream out) {
        long start = System.nanoTime();
        out.print("  waiting for " + what + " ...");
        out.flush();
        while (!ready.getAsBoolean()) {
            if (System.nanoTime() > deadlineNanos) {
                out.println(" timed out");
                throw new IllegalStateException("timed out waiting for " + what + "; logs are in " + store.dir().resolve("logs")
                        + " (supervisor.log says what was started and restarted)");
            }
            sleep(200);
        }
        out.printf(" ok (%.1f s)%n", (System.nanoTime() - start) / 1e9);
    }

    public int httpStatus(Service s, String path) {
        RouterClient.Response r = new RouterClient(s.httpUrl(), Duration.ofSeconds(2)).get(path);
        return r.status();
    }

    public synchronized ReplicaClient client(String replica) {
        Service s = description().require(replica);
        return clients.computeIfAbsent(replica, id -> new ReplicaClient(id, s.address(), secret()));
    }

    public List<ReplicaClient> replicaClients() {
        List<ReplicaClient> out = new ArrayList<>();
        for (Service s : description().replicas()) {
            out.add(client(s.name()));
        }
        return out;
    }

    /** The Info of every replica that answers within {@code timeoutMs}. */
    public Map<String, ReplicaInfo> infos(long timeoutMs) {
        Map<String, ReplicaInfo> out = new LinkedHashMap<>();
        replicaClients().parallelStream().forEach(c -> c.tryInfo(timeoutMs).ifPresent(i -> {
            synchronized (out) {
                out.put(c.id(), i);
            }
        }));
        return out;
    }

    /** The replica that is leader and accepting writes in the newest epoch, if any. */
    public Optional<ReplicaInfo> leaderInfo() {
        return infos(ReplicaClient.CALL_TIMEOUT_MS).values().stream()
                .filter(i -> i.getRole() == Role.ROLE_LEADER && i.getAcceptingWrites())
                .max(java.util.Comparator.comparingLong(ReplicaInfo::getEpoch));
    }

    /** Waits up to {@code timeout} for a leader accepting writes (Info calls are slow on a loaded machine). */
    public Optional<ReplicaInfo> awaitLeader(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Optional<ReplicaInfo> l = leaderInfo();
        while (l.isEmpty() && System.nanoTime() < deadline) {
            sleep(100);
            l = leaderInfo();
        }
        return l;
    }

    /**
     * Whether the cluster is whole again: every replica running and answering, one leader taking
     * writes, every follower streaming from it within {@code maxLagEntries}.
     */
    public boolean isHealthy(long maxLagEntries) {
        ClusterDescription d = description();
        for (Service s : d.replicas()) {
            if (Pids.find(s.pid(), Pids.portMarker(s.port())).isEmpty() || Pids.isPaused(s.pid())) {
                return false;
            }
        }
        Map<String, ReplicaInfo> infos = infos(ReplicaClient.CALL_TIMEOUT_MS);
        if (infos.size() != d.replicas().size()) {
            return false;
        }
        long leaders = infos.values().stream().filter(i -> i.getRole() == Role.ROLE_LEADER && i.getAcceptingWrites()).count();
        boolean followersOk = infos.values().stream().filter(i -> i.getRole() != Role.ROLE_LEADER)
                .allMatch(i -> i.getRole() == Role.ROLE_FOLLOWER && i.getStreaming() && i.getLagEntries() <= maxLagEntries);
        return leaders == 1 && followersOk;
    }

    /** SIGKILL: a crash. The supervisor restarts the replica after the restart delay. */
    public long kill(String name) {
        ProcessHandle p = live(name);
        p.destroyForcibly();
        Pids.awaitExit(p, Duration.ofSeconds(5));
        return p.pid();
    }

    /** SIGSTOP: the process hangs with its sockets open. */
    public void pause(String name) {
        Pids.signal(live(name).pid(), "STOP");
    }

    public void resume(String name) {
        Pids.signal(live(name).pid(), "CONT");
    }

    /** Stops on purpose: the supervisor will not restart it until {@link #start}. */
    public void stop(String name, PrintStream out) {
        Service before = description().require(name);
        store.update(d -> d.withService(name, s -> s.withDesired(Desired.stopped)));
        Optional<ProcessHandle> p = Pids.find(before.pid(), Pids.portMarker(before.port()));
        if (p.isPresent()) {
            Pids.signalQuietly(p.get().pid(), "CONT");
            if (!Pids.awaitExit(p.get(), Duration.ofSeconds(30))) {
                throw new IllegalStateException(name + " (pid " + p.get().pid() + ") did not stop within 30 s; see "
                        + before.logFile());
            }
        }
        out.println(name + " stopped; the supervisor leaves it down until bin/tandem local start " + name);
    }

    /** Marks a stopped service to run again and waits until it answers. */
    public void start(String name, PrintStream out) {
        store.update(d -> d.withService(name, s -> s.withDesired(Desired.running)));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        await(name, deadline, () -> {
            Service s = description().require(name);
            return Pids.find(s.pid(), Pids.portMarker(s.port())).isPresent() && httpStatus(s, "/q/health/live") == 200;
        }, out);
    }

    private ProcessHandle live(String name) {
        Service s = description().require(name);
        return Pids.find(s.pid(), Pids.portMarker(s.port())).orElseThrow(() -> new IllegalStateException(name
                + " is not running right now" + (s.desired() == Desired.stopped ? " (stopped on purpose: bin/tandem local start " + name + ")"
                : " (the supervisor restarts it within " + description().restartDelayMs() + " ms of a crash)")));
    }

    /** Stops the supervisor and every service; keeps the data unless {@code purge}. */
    public static boolean down(Path dir, boolean purge, PrintStream out) {
        DescriptionStore store = new DescriptionStore(dir);
        Optional<ClusterDescription> d = store.read();
        if (d.isEmpty()) {
            out.println("no local cluster in " + store.dir());
            if (purge) {
                deleteTree(store.dir());
            }
            return false;
        }
        if (Supervisor.stop(d.get().supervisorPid(), store.dir(), DOWN_GRACE)) {
            out.println("stopped the supervisor (pid " + d.get().supervisorPid() + ") and its services");
        }
        stopLeftovers(store.require());
        store.update(x -> {
            ClusterDescription y = x.withSupervisorPid(0);
            for (Service s : x.services()) {
                y = y.withService(s.name(), v -> v.withPid(0));
            }
            return y;
        });
        closeClients();
        if (purge) {
            deleteTree(store.dir());
            out.println("removed " + store.dir());
        } else {
            out.println("data kept in " + store.dir() + " (bin/tandem local up restarts this cluster; --purge removes it)");
        }
        return true;
    }

    private static void closeClients() {
        // clients belong to instances; nothing global to close
    }

    /** Kills services a dead supervisor left behind, by PID, after checking each is still ours. */
    private static void stopLeftovers(ClusterDescription d) {
        d.services().parallelStream().forEach(s -> Pids.find(s.pid(), Pids.portMarker(s.port()))
                .ifPresent(p -> Pids.terminate(p, Duration.ofSeconds(10))));
    }

    static boolean portFree(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        clients.values().forEach(ReplicaClient::close);
        clients.clear();
    }
}
