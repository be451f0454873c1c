package dev.tandem.cli.local;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * What a local cluster is made of and what it should be doing: the file ({@code DIR/cluster.json})
 * that every {@code bin/tandem local ...} command and the supervisor share. Like a Kubernetes
 * object it has a spec ({@link Service#desired()}, written by operator commands) and a status
 * ({@link Service#pid()}, {@link Service#restarts()}, written by the supervisor), so that the
 * supervisor can tell a crash (restart it) from a stop on purpose (leave it down).
 *
 * <p>Immutable; every change makes a new description, written atomically by {@link DescriptionStore}.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ClusterDescription(
        int formatVersion,
        String dir,
        String secret,
        String writeConcern,
        long restartDelayMs,
        long supervisorPid,
        List<Service> services) {

    public static final int FORMAT_VERSION = 1;

    public enum Kind { replica, controller, router }

    public enum Desired { running, stopped }

    /**
     * One process of the cluster. {@code host} is the address it listens on and others reach it
     * at (null: {@code 127.0.0.1}); {@code netns} the network namespace it runs in (null: the
     * supervisor's own). Only chaos runs with partitions place replicas in namespaces
     * ({@link Netns}); {@code local up} puts every service back on loopback.
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Service(String name, Kind kind, int port, long pid, String dataDir, String logFile,
                          Desired desired, int restarts, String host, String netns) {

        public String address() {
            return (host == null ? "127.0.0.1" : host) + ":" + port;
        }

        public String httpUrl() {
            return "http://" + address();
        }

        public Service withPid(long newPid) {
            return new Service(name, kind, port, newPid, dataDir, logFile, desired, restarts, host, netns);
        }

        public Service withDesired(Desired d) {
            return new Service(name, kind, port, pid, dataDir, logFile, d, restarts, host, netns);
        }

        public Service restarted(long newPid) {
            return new Service(name, kind, port, newPid, dataDir, logFile, desired, restarts + 1, host, netns);
        }

        public Service withPort(int newPort) {
            return new Service(name, kind, newPort, pid, dataDir, logFile, desired, restarts, host, netns);
        }

        /** Placed at {@code newHost} in namespace {@code newNetns}; both null = loopback of the supervisor's namespace. */
        public Service withNetwork(String newHost, String newNetns) {
            return new Service(name, kind, port, pid, dataDir, logFile, desired, restarts, newHost, newNetns);
        }
    }

    public ClusterDescription {
        services = List.copyOf(services);
        if (formatVersion != FORMAT_VERSION) {
            throw new IllegalArgumentException("cluster description format " + formatVersion + " is not " + FORMAT_VERSION
                    + ": remove " + dir + " (or use another --dir) and run bin/tandem local up again");
        }
        long names = services.stream().map(Service::name).distinct().count();
        if (names != services.size()) {
            throw new IllegalArgumentException("duplicate service names in " + services);
        }
    }

    /** A new cluster of {@code replicas} replicas r1..rN, one controller and one router. */
    public static ClusterDescription create(Path dir, String secret, String writeConcern, long restartDelayMs,
                                            int replicas, java.util.function.IntSupplier ports) {
        if (replicas < 1) {
            throw new IllegalArgumentException("a cluster needs at least one replica, got " + replicas);
        }
        Path abs = dir.toAbsolutePath().normalize();
        List<Service> s = new ArrayList<>();
        for (int i = 1; i <= replicas; i++) {
            String id = "r" + i;
            s.add(new Service(id, Kind.replica, ports.getAsInt(), 0, abs.resolve(id).toString(),
                    abs.resolve("logs").resolve(id + ".log").toString(), Desired.running, 0, null, null));
        }
        s.add(new Service("controller", Kind.controller, ports.getAsInt(), 0, null,
                abs.resolve("logs").resolve("controller.log").toString(), Desired.running, 0, null, null));
        s.add(new Service("router", Kind.router, ports.getAsInt(), 0, null,
                abs.resolve("logs").resolve("router.log").toString(), Desired.running, 0, null, null));
        return new ClusterDescription(FORMAT_VERSION, abs.toString(), secret, writeConcern, restartDelayMs, 0, s);
    }

    public List<Service> replicas() {
        return services.stream().filter(x -> x.kind() == Kind.replica).toList();
    }

    public Optional<Service> service(String name) {
        return services.stream().filter(x -> x.name().equals(name)).findFirst();
    }

    /** The service named {@code name}, or an error that lists what exists. */
    public Service require(String name) {
        return service(name).orElseThrow(() -> new IllegalArgumentException("no service '" + name + "' in this cluster; it has "
                + services.stream().map(Service::name).toList()));
    }

    public Service router() {
        return services.stream().filter(x -> x.kind() == Kind.router).findFirst().orElseThrow();
    }

    public Service controller() {
        return services.stream().filter(x -> x.kind() == Kind.controller).findFirst().orElseThrow();
    }

    /**
     * Every replica placed in {@code layout}'s namespaces, or (null) back on loopback. The layout
     * must name every replica.
     */
    public ClusterDescription placed(Netns.Layout layout) {
        ClusterDescription d = this;
        for (Service r : replicas()) {
            d = d.withService(r.name(), s -> layout == null ? s.withNetwork(null, null)
                    : s.withNetwork(layout.hostOf(s.name()), layout.namespaceOf(s.name())));
        }
        return d;
    }

    /** The replica list in the form every service takes: {@code r1=127.0.0.1:p1,r2=...} (or the namespace addresses). */
    public String replicaList() {
        StringBuilder sb = new StringBuilder();
        for (Service r : replicas()) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(r.name()).append('=').append(r.address());
        }
        return sb.toString();
    }

    public Path clusterStateFile() {
        return Path.of(dir).resolve("cluster-state.json");
    }

    public ClusterDescription withService(String name, UnaryOperator<Service> change) {
        require(name);
        List<Service> next = services.stream().map(x -> x.name().equals(name) ? change.apply(x) : x).toList();
        return new ClusterDescription(formatVersion, dir, secret, writeConcern, restartDelayMs, supervisorPid, next);
    }

    public ClusterDescription withSupervisorPid(long pid) {
        return new ClusterDescription(formatVersion, dir, secret, writeConcern, restartDelayMs, pid, services);
    }
}
