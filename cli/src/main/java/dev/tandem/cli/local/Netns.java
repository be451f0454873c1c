package dev.tandem.cli.local;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Network namespaces for a local cluster whose replicas can be cut off the network (chaos
 * partitions). One run owns a <em>hub</em> namespace {@code tdm-<pid>-hub} holding a bridge with
 * {@code 10.231.0.1/24}, and one namespace {@code tdm-<pid>-<replica>} per replica, joined to the
 * bridge by a veth pair ({@code tv-<replica>} in the hub, {@code eth0} in the replica's namespace,
 * {@code 10.231.0.(10+i)/24}). The supervisor, controller, router and the chaos clients run in the
 * hub; a replica runs under {@code ip netns exec} in its own namespace. Cutting a replica off is
 * setting its hub-side link down: packets both ways are dropped silently, as on a broken network.
 *
 * <p>Everything is created inside the run's own namespaces with {@code ip -n NS ...} (a veth
 * pair is born in the hub with its peer already in the replica's namespace): nothing is ever
 * added to the namespace the command was started in. {@code <pid>} is the PID of the process that
 * created the namespaces; namespaces of a dead owner are stale and removed by the next run.
 */
public final class Netns {

    /** Every namespace this class creates starts with this. */
    public static final String NAME_PREFIX = "tdm-";
    static final String SUBNET = "10.231.0";
    static final String BRIDGE = "tbr0";
    static final String HUB_ADDRESS = SUBNET + ".1";
    private static final Pattern OWNED = Pattern.compile("^" + NAME_PREFIX + "(\\d+)-[A-Za-z0-9_.-]+$");
    private static final Duration IP_TIMEOUT = Duration.ofSeconds(20);

    private Netns() {}

    /** Names and addresses of one run's namespaces. Pure. */
    public record Layout(String prefix, List<String> replicas) {

        public Layout {
            replicas = List.copyOf(replicas);
            if (!prefix.startsWith(NAME_PREFIX)) {
                throw new IllegalArgumentException("namespace prefix must start with " + NAME_PREFIX + ", got " + prefix);
            }
            if (replicas.isEmpty() || replicas.size() > 200) {
                throw new IllegalArgumentException("1 to 200 replicas, got " + replicas.size());
            }
            for (String r : replicas) {
                if (!r.matches("[A-Za-z0-9_.-]{1,12}")) {
                    throw new IllegalArgumentException("replica name '" + r + "' cannot name a link (1-12 of [A-Za-z0-9_.-])");
                }
            }
        }

        /** The layout of namespaces owned by process {@code pid}: prefix {@code tdm-<pid>}. */
        public static Layout forOwner(long pid, List<String> replicas) {
            return new Layout(NAME_PREFIX + pid, replicas);
        }

        public String hub() {
            return prefix + "-hub";
        }

        public String namespaceOf(String replica) {
            return prefix + "-" + require(replica);
        }

        /** The replica's address in its namespace: 10.231.0.11 for the first. */
        public String hostOf(String replica) {
            return SUBNET + "." + (11 + replicas.indexOf(require(replica)));
        }

        /** The hub-side end of the replica's veth pair; down = partitioned. */
        public String hubLinkOf(String replica) {
            return "tv-" + require(replica);
        }

        /** The hub first, then one per replica. */
        public List<String> namespaces() {
            List<String> all = new ArrayList<>();
            all.add(hub());
            replicas.forEach(r -> all.add(namespaceOf(r)));
            return all;
        }

        /** The {@code ip} argument lists that build the layout, in order. */
        public List<List<String>> setupCommands() {
            List<List<String>> c = new ArrayList<>();
            for (String ns : namespaces()) {
                c.add(List.of("netns", "add", ns));
            }
            String hub = hub();
            c.add(List.of("-n", hub, "link", "set", "lo", "up"));
            c.add(List.of("-n", hub, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"));
            c.add(List.of("-n", hub, "addr", "add", HUB_ADDRESS + "/24", "dev", BRIDGE));
            c.add(List.of("-n", hub, "link", "set", BRIDGE, "up"));
            for (String r : replicas) {
                String ns = namespaceOf(r);
                c.add(List.of("-n", hub, "link", "add", hubLinkOf(r), "type", "veth", "peer", "name", "eth0", "netns", ns));
                c.add(List.of("-n", hub, "link", "set", hubLinkOf(r), "master", BRIDGE));
                c.add(List.of("-n", hub, "link", "set", hubLinkOf(r), "up"));
                c.add(List.of("-n", ns, "link", "set", "lo", "up"));
                c.add(List.of("-n", ns, "addr", "add", hostOf(r) + "/24", "dev", "eth0"));
                c.add(List.of("-n", ns, "link", "set", "eth0", "up"));
            }
            return c;
        }

        public List<String> cutCommand(String replica) {
            return List.of("-n", hub(), "link", "set", hubLinkOf(replica), "down");
        }

        public List<String> healCommand(String replica) {
            return List.of("-n", hub(), "link", "set", hubLinkOf(replica), "up");
        }

        private String require(String replica) {
            if (!replicas.contains(replica)) {
                throw new IllegalArgumentException("no replica '" + replica + "' in " + replicas);
            }
            return replica;
        }
    }

    // ---- pure helpers ----

    /** The PID that owns a namespace named {@code tdm-<pid>-...}; empty for any other name. */
    static Optional<Long> ownerPid(String namespace) {
        Matcher m = OWNED.matcher(namespace);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(m.group(1)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Namespace names from {@code ip netns list} output ({@code name} or {@code name (id: 3)} per line). */
    static List<String> parseList(String output) {
        List<String> names = new ArrayList<>();
        for (String line : output.split("\n")) {
            String t = line.trim();
            if (!t.isEmpty()) {
                names.add(t.split("\\s+")[0]);
            }
        }
        return names;
    }

    /** Our namespaces whose owner is gone, hubs first (they hold the supervisor that would restart replicas). */
    static List<String> stale(List<String> names, LongPredicate ownerAlive) {
        List<String> hubs = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (String n : names) {
            Optional<Long> owner = ownerPid(n);
            if (owner.isPresent() && !ownerAlive.test(owner.get())) {
                (n.endsWith("-hub") ? hubs : rest).add(n);
            }
        }
        hubs.addAll(rest);
        return hubs;
    }

    /** PIDs from {@code ip netns pids} output, one per line. */
    static List<Long> parsePids(String output) {
        List<Long> pids = new ArrayList<>();
        for (String line : output.split("\n")) {
            String t = line.trim();
            if (t.matches("\\d+")) {
                pids.add(Long.parseLong(t));
            }
        }
        return pids;
    }

    // ---- the system ----

    /** The {@code ip} binary (iproute2), from PATH or the usual sbin directories. */
    public static Optional<String> ipBinary() {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String d : dirs) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, "ip");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p.toString());
            }
        }
        return Optional.empty();
    }

    /** The effective uid of this process (from /proc), or -1 if unknown. */
    static long effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        return -1;
    }

    /** Why network namespaces cannot be used here (not root, no iproute2), or empty if they might. */
    public static Optional<String> unavailableReason() {
        long uid = effectiveUid();
        if (uid != 0) {
            return Optional.of("network namespaces need root (running as " + (uid < 0 ? "an unknown user" : "uid " + uid) + ")");
        }
        Optional<String> ip = ipBinary();
        if (ip.isEmpty()) {
            return Optional.of("network namespaces need iproute2 ('ip' not found on PATH or in /usr/sbin, /sbin)");
        }
        Result v = run(List.of(ip.get(), "-V"));
        if (v.exit != 0) {
            return Optional.of("'" + ip.get() + " -V' failed: " + v.message());
        }
        return Optional.empty();
    }

    /**
     * Whether a namespace can actually be created here (root in a container may lack the
     * capability): creates {@code tdm-<pid>-probe} and removes it. Empty if it worked.
     */
    public static Optional<String> probe() {
        Optional<String> reason = unavailableReason();
        if (reason.isPresent()) {
            return reason;
        }
        String ns = NAME_PREFIX + ProcessHandle.current().pid() + "-probe";
        try {
            Result add = ip(List.of("netns", "add", ns));
            if (add.exit != 0) {
                return Optional.of("'ip netns add " + ns + "' failed: " + add.message());
            }
            Result lo = ip(List.of("-n", ns, "link", "set", "lo", "up"));
            return lo.exit == 0 ? Optional.empty() : Optional.of("'ip -n " + ns + " link set lo up' failed: " + lo.message());
        } finally {
            if (list().contains(ns)) {
                ip(List.of("netns", "delete", ns));
            }
        }
    }

    /**
     * Removes stale namespaces of dead owners, then builds {@code layout}. On any failure removes
     * what it made and throws {@link IllegalStateException} naming the failed command.
     */
    public static void create(Layout layout, PrintStream out) {
        removeStale(out);
        for (List<String> args : layout.setupCommands()) {
            Result r = ip(args);
            if (r.exit != 0) {
                delete(layout);
                throw new IllegalStateException("'ip " + String.join(" ", args) + "' failed: " + r.message());
            }
        }
    }

    /** Cuts the replica off: its hub-side link goes down. */
    public static void cut(Layout layout, String replica) {
        check(layout.cutCommand(replica));
    }

    public static void heal(Layout layout, String replica) {
        check(layout.healCommand(replica));
    }

    public static boolean exists(String namespace) {
        return list().contains(namespace);
    }

    /**
     * Kills whatever still runs in the layout's namespaces (by PID: only our cluster's processes
     * can be in them) and deletes them; the veth pairs and the bridge go with them. Returns the
     * namespaces that could not be deleted.
     */
    public static List<String> delete(Layout layout) {
        List<String> present = list();
        List<String> failed = new ArrayList<>();
        for (String ns : layout.namespaces()) {
            if (present.contains(ns) && !deleteNamespace(ns)) {
                failed.add(ns);
            }
        }
        return failed;
    }

    /** Deletes every {@code tdm-<pid>-*} namespace whose owner process is gone, and what runs in it. */
    public static void removeStale(PrintStream out) {
        List<String> stale = stale(list(), Netns::ownerAlive);
        for (String ns : stale) {
            boolean ok = deleteNamespace(ns);
            out.println("chaos: removed stale network namespace " + ns + " (its owner " + ownerPid(ns).orElse(-1L) + " is gone)"
                    + (ok ? "" : ": FAILED, remove it with 'ip netns delete " + ns + "'"));
        }
    }

    /** A live process with that PID; a PID reused by something else counts as alive too, to be safe (removed once it exits). */
    static boolean ownerAlive(long pid) {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).isPresent();
    }

    private static boolean deleteNamespace(String ns) {
        for (int attempt = 0; attempt < 3; attempt++) {
            for (long pid : parsePids(ip(List.of("netns", "pids", ns)).output)) {
                ProcessHandle.of(pid).ifPresent(p -> {
                    p.destroyForcibly();
                    Pids.awaitExit(p, Duration.ofSeconds(5));
                });
            }
            if (ip(List.of("netns", "delete", ns)).exit == 0) {
                return true;
            }
        }
        return false;
    }

    /** Every network namespace name ({@code ip netns list}); empty if that fails. */
    public static List<String> list() {
        Result r = ip(List.of("netns", "list"));
        return r.exit == 0 ? parseList(r.output) : List.of();
    }

    private static void check(List<String> args) {
        Result r = ip(args);
        if (r.exit != 0) {
            throw new IllegalStateException("'ip " + String.join(" ", args) + "' failed: " + r.message());
        }
    }

    /** Exit status and combined output of one command; {@link #message()} is the output on one line. */
    record Result(int exit, String output) {
        String message() {
            return output.trim().replace('\n', ' ');
        }
    }

    static Result ip(List<String> args) {
        String ip = ipBinary().orElseThrow(() -> new IllegalStateException("iproute2 ('ip') not found"));
        List<String> cmd = new ArrayList<>();
        cmd.add(ip);
        cmd.addAll(args);
        return run(cmd);
    }

    private static Result run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(IP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out after " + IP_TIMEOUT.toSeconds() + " s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    /** For messages: {@code tdm-123-{hub,r1,r2,r3}}. */
    public static String describe(Layout layout) {
        return layout.prefix() + "-{hub," + String.join(",", layout.replicas()) + "}";
    }
}
