package dev.tandem.router.it;

import dev.tandem.common.ClusterSecret;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowRequest;
import dev.tandem.proto.FollowResponse;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Member;
import dev.tandem.proto.PromoteRequest;
import dev.tandem.proto.PromoteResponse;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import dev.tandem.process.FreePorts;
import dev.tandem.process.ServiceProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Real replica processes (the packaged replica-service) and router processes (this module's own
 * fast-jar) on loopback ports. The cluster is formed the way the controller forms it: Promote one
 * replica in epoch 1, Follow on the others, with the cluster secret in gRPC metadata.
 */
public final class TandemCluster implements AutoCloseable {

    static final String SECRET = "router-it-secret-0123456789";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Path dir;
    private final Map<String, ServiceProcess> replicas = new LinkedHashMap<>();
    private final Map<String, ManagedChannel> channels = new LinkedHashMap<>();
    private final List<ServiceProcess> routers = new ArrayList<>();

    /** Starts {@code n} replicas named r1..rn, each with {@code extra} properties, in parallel. */
    public TandemCluster(String testName, int n, Map<String, String> extra) {
        this.dir = Path.of("target", "it", testName + "-" + System.currentTimeMillis()).toAbsolutePath();
        // Keep only this run's directories (RocksDB data adds up to gigabytes over many runs); the
        // last run's logs stay until the next run of the same test.
        deleteOlderRuns(dir.getParent(), testName + "-");
        Path jar = replicaJarSnapshot();
        List<CompletableFuture<Void>> starts = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            String id = "r" + i;
            int port = FreePorts.pick();
            ServiceProcess.Spec spec = ServiceProcess.Spec.of(id, jar, port, dir.resolve(id + ".log"))
                    .withProperty("tandem.replica.id", id)
                    .withProperty("tandem.replica.data-dir", dir.resolve(id + "-data").toString())
                    .withProperty("tandem.cluster.secret", SECRET)
                    .withProperty("java.io.tmpdir", tmp().toString());
            for (Map.Entry<String, String> e : extra.entrySet()) {
                spec = spec.withProperty(e.getKey(), e.getValue());
            }
            ServiceProcess p = new ServiceProcess(spec);
            replicas.put(id, p);
            starts.add(CompletableFuture.runAsync(() -> p.start().awaitHttpOk("/q/health/live", START_TIMEOUT)));
        }
        try {
            CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).join();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * The replica fast-jar, hard-linked into this module's target/ once per test JVM: other engineers
     * re-package replica-service while these tests run, and a half-written quarkus-app/ makes a
     * replica fail to start. Links keep the files of the moment they were made.
     */
    private static synchronized Path replicaJarSnapshot() {
        if (replicaSnapshot == null) {
            Path snap = Path.of("target", "replica-app-" + ProcessHandle.current().pid()).toAbsolutePath();
            deleteOlderRuns(snap.getParent(), "replica-app-");
            replicaSnapshot = ServiceProcess.snapshotFastJar(ServiceProcess.moduleJar("replica-service"), snap);
        }
        return replicaSnapshot;
    }

    private static Path replicaSnapshot;

    private static void deleteOlderRuns(Path parent, String prefix) {
        if (!Files.isDirectory(parent)) {
            return;
        }
        try (var runs = Files.list(parent)) {
            for (Path run : (Iterable<Path>) runs::iterator) {
                if (run.getFileName().toString().startsWith(prefix)) {
                    try (var tree = Files.walk(run)) {
                        tree.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + parent, e);
        }
    }

    private Path tmp() {
        try {
            return Files.createDirectories(dir.resolve("tmp"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public ServiceProcess replica(String id) {
        return replicas.get(id);
    }

    List<Member> members() {
        return replicas.values().stream().map(p -> Member.newBuilder().setId(p.name()).setAddress(p.address()).build()).toList();
    }

    /** {@code id=host:port,...} for the router's tandem.router.replicas. */
    String replicaList() {
        return replicas.values().stream().map(p -> p.name() + "=" + p.address()).collect(Collectors.joining(","));
    }

    private ManagedChannel channel(String id) {
        return channels.computeIfAbsent(id, k -> ManagedChannelBuilder.forAddress("127.0.0.1", replicas.get(k).port()).usePlaintext().build());
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin(String id) {
        return AdminServiceGrpc.newBlockingStub(channel(id))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ClusterSecret.of(SECRET).asMetadata()))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    public ReplicaInfo info(String id) {
        return KvServiceGrpc.newBlockingStub(channel(id)).withDeadlineAfter(2, TimeUnit.SECONDS).info(InfoRequest.getDefaultInstance());
    }

    /** {@code key} as replica {@code id} holds it locally (no read requirement: any role answers). */
    public GetResponse get(String id, String key) {
        return KvServiceGrpc.newBlockingStub(channel(id)).withDeadlineAfter(2, TimeUnit.SECONDS).get(GetRequest.newBuilder().setKey(key).build());
    }

    /** A write sent to replica {@code id} directly, past the router's checks (to store what the router refuses). */
    public dev.tandem.proto.WriteResponse write(String id, dev.tandem.proto.WriteRequest request) {
        return KvServiceGrpc.newBlockingStub(channel(id)).withDeadlineAfter(5, TimeUnit.SECONDS).write(request);
    }

    void promote(String id, long epoch) {
        PromoteResponse r = admin(id).promote(PromoteRequest.newBuilder().setEpoch(epoch).addAllMembers(members())
                .setFailoverId("router-it-" + epoch).build());
        if (r.getError().getCode() != ErrorCode.OK) {
            throw new IllegalStateException("promote " + id + " in epoch " + epoch + ": " + r.getError());
        }
    }

    void follow(String id, String leaderId, long epoch) {
        Member leader = members().stream().filter(m -> m.getId().equals(leaderId)).findFirst().orElseThrow();
        FollowResponse r = admin(id).follow(FollowRequest.newBuilder().setEpoch(epoch).setLeader(leader).addAllMembers(members())
                .setFailoverId("router-it-" + epoch).build());
        if (r.getError().getCode() != ErrorCode.OK) {
            throw new IllegalStateException("follow " + leaderId + " by " + id + " in epoch " + epoch + ": " + r.getError());
        }
    }

    /** r1 leads epoch 1, the others follow; returns once the leader accepts writes and every follower streams. */
    public TandemCluster formWithLeader(String leaderId) {
        promote(leaderId, 1);
        for (String id : replicas.keySet()) {
            if (!id.equals(leaderId)) {
                follow(id, leaderId, 1);
            }
        }
        awaitCondition(Duration.ofSeconds(20), "cluster formed with leader " + leaderId, () -> {
            for (String id : replicas.keySet()) {
                ReplicaInfo i = info(id);
                boolean ok = id.equals(leaderId) ? i.getRole() == Role.ROLE_LEADER && i.getAcceptingWrites()
                        : i.getRole() == Role.ROLE_FOLLOWER && i.getStreaming();
                if (!ok) {
                    return false;
                }
            }
            return true;
        });
        return this;
    }

    /** Starts a router process over all replicas and waits until it answers. */
    public ServiceProcess startRouter(String name, Map<String, String> extra) {
        ServiceProcess.Spec spec = ServiceProcess.Spec.of(name, ServiceProcess.moduleJar("router-service"), FreePorts.pick(), dir.resolve(name + ".log"))
                .withProperty("tandem.router.replicas", replicaList())
                .withProperty("java.io.tmpdir", tmp().toString());
        for (Map.Entry<String, String> e : extra.entrySet()) {
            spec = spec.withProperty(e.getKey(), e.getValue());
        }
        ServiceProcess p = new ServiceProcess(spec);
        routers.add(p);
        return p.start().awaitHttpOk("/q/health/live", START_TIMEOUT);
    }

    interface Check {
        boolean holds() throws Exception;
    }

    /** A test class's start-up steps; on failure everything is stopped and the failure carries every log. */
    void starting(Runnable steps) {
        try {
            steps.run();
        } catch (RuntimeException | AssertionError e) {
            String logs = logs();
            close();
            throw new AssertionError("cluster did not start:\n" + logs, e);
        }
    }

    /** Waits until {@code router} names {@code leaderId} as the leader in GET /v1/cluster. */
    static void awaitRouterLeader(ServiceProcess router, String leaderId) {
        awaitCondition(Duration.ofSeconds(20), "router sees leader " + leaderId, () ->
                leaderId.equals(new Client().on(router).get("/v1/cluster").jsonPath().getString("leader")));
    }

    static void awaitCondition(Duration timeout, String what, Check check) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (check.holds()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("timed out after " + timeout + " waiting for " + what + (last == null ? "" : " (last error: " + last + ")"));
    }

    public String logs() {
        StringBuilder sb = new StringBuilder();
        for (ServiceProcess p : replicas.values()) {
            sb.append("---- ").append(p.name()).append(" ----\n").append(p.logTail(30)).append('\n');
        }
        for (ServiceProcess p : routers) {
            sb.append("---- ").append(p.name()).append(" ----\n").append(p.logTail(30)).append('\n');
        }
        return sb.toString();
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ServiceProcess p : routers) {
            p.stop();
        }
        for (ServiceProcess p : replicas.values()) {
            if (p.isAlive()) {
                // A paused process ignores SIGTERM until continued.
                try {
                    p.resume();
                } catch (RuntimeException ignored) {
                    // not paused, or already gone
                }
            }
            p.stop();
        }
    }
}
