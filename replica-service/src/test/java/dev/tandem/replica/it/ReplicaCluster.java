package dev.tandem.replica.it;

import dev.tandem.common.ClusterSecret;
import dev.tandem.process.FreePorts;
import dev.tandem.process.ServiceProcess;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.FollowRequest;
import dev.tandem.proto.FollowResponse;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Member;
import dev.tandem.proto.PromoteRequest;
import dev.tandem.proto.PromoteResponse;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
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
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Three (or n) real replica processes on loopback, each with its own data directory under
 * target/, started from the packaged fast-jar. Test helper: admin and KV stubs per replica.
 */
public final class ReplicaCluster implements AutoCloseable {

    public static final String SECRET = "it-secret-0123456789abcdef";

    private final Path baseDir;
    private final Map<String, ServiceProcess> processes = new LinkedHashMap<>();
    private final Map<String, ManagedChannel> channels = new LinkedHashMap<>();

    public ReplicaCluster(String name, int n, Map<String, String> extraProperties) {
        this.baseDir = Path.of("target", "it-data", name + "-" + System.currentTimeMillis()).toAbsolutePath();
        Path jar = ServiceProcess.moduleJar("replica-service");
        for (int i = 1; i <= n; i++) {
            String id = "r" + i;
            int port = FreePorts.pick();
            ServiceProcess.Spec spec = ServiceProcess.Spec.of(id, jar, port, baseDir.resolve(id + ".log"))
                    .withProperty("tandem.replica.id", id)
                    .withProperty("tandem.replica.data-dir", baseDir.resolve(id).toString())
                    .withProperty("java.io.tmpdir", baseDir.resolve("tmp").toString())
                    .withEnv("TANDEM_CLUSTER_SECRET", SECRET);
            for (Map.Entry<String, String> e : extraProperties.entrySet()) {
                spec = spec.withProperty(e.getKey(), e.getValue());
            }
            processes.put(id, new ServiceProcess(spec));
        }
        try {
            Files.createDirectories(baseDir.resolve("tmp"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * How long a replica may take to answer its liveness check after a start, generous: Quarkus
     * has been seen taking 38 s to start on a shared 2-core machine under load.
     */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    /** Starts every replica; on failure stops those started, so no process outlives the test. */
    public ReplicaCluster startAll() {
        try {
            processes.values().forEach(ServiceProcess::start);
            processes.values().forEach(p -> p.awaitHttpOk("/q/health/live", START_TIMEOUT));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        return this;
    }

    public ServiceProcess process(String id) {
        return processes.get(id);
    }

    public List<String> ids() {
        return new ArrayList<>(processes.keySet());
    }

    public Path dataDir(String id) {
        return baseDir.resolve(id);
    }

    /** The temporary directory all replicas of this cluster share. */
    public Path tmpDir() {
        return baseDir.resolve("tmp");
    }

    public List<Member> members() {
        return processes.entrySet().stream()
                .map(e -> Member.newBuilder().setId(e.getKey()).setAddress(e.getValue().address()).build()).toList();
    }

    public Member member(String id) {
        return Member.newBuilder().setId(id).setAddress(processes.get(id).address()).build();
    }

    ManagedChannel channel(String id) {
        return channels.computeIfAbsent(id, k -> ManagedChannelBuilder.forTarget(processes.get(k).address()).usePlaintext().build());
    }

    public KvServiceGrpc.KvServiceBlockingStub kv(String id) {
        return KvServiceGrpc.newBlockingStub(channel(id)).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    public KvServiceGrpc.KvServiceFutureStub kvAsync(String id) {
        return KvServiceGrpc.newFutureStub(channel(id));
    }

    public AdminServiceGrpc.AdminServiceBlockingStub admin(String id) {
        return AdminServiceGrpc.newBlockingStub(channel(id)).withDeadlineAfter(15, TimeUnit.SECONDS)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ClusterSecret.of(SECRET).asMetadata()));
    }

    public StatusResponse status(String id, boolean digest) {
        return admin(id).status(StatusRequest.newBuilder().setIncludeDigest(digest).build());
    }

    public PromoteResponse promote(String id, long epoch) {
        return admin(id).promote(PromoteRequest.newBuilder().setEpoch(epoch).addAllMembers(members()).setFailoverId("it-" + epoch).build());
    }

    public FollowResponse follow(String id, String leader, long epoch) {
        return admin(id).follow(FollowRequest.newBuilder().setEpoch(epoch).setLeader(member(leader))
                .addAllMembers(members()).setFailoverId("it-" + epoch).build());
    }

    /** Promotes {@code leader} in {@code epoch}, makes every other replica follow, waits until it accepts writes. */
    public void form(String leader, long epoch) {
        PromoteResponse p = promote(leader, epoch);
        if (p.hasError() && p.getError().getCodeValue() != 0) {
            throw new AssertionError("promote " + leader + " failed: " + p.getError());
        }
        for (String id : ids()) {
            if (!id.equals(leader)) {
                FollowResponse f = follow(id, leader, epoch);
                if (f.hasError() && f.getError().getCodeValue() != 0) {
                    throw new AssertionError("follow " + id + " failed: " + f.getError());
                }
            }
        }
        awaitTrue(Duration.ofSeconds(15), () -> status(leader, false).getInfo().getAcceptingWrites(),
                () -> leader + " never accepted writes: " + status(leader, false));
    }

    /** Waits until every live replica has applied the leader's last lsn and returns their digests. */
    public Map<String, StatusResponse> awaitConverged(String leader, List<String> replicas, Duration timeout) {
        Map<String, StatusResponse> last = new LinkedHashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            last.clear();
            for (String id : replicas) {
                last.put(id, status(id, true));
            }
            long lsn = last.get(leader).getDigestLsn();
            boolean same = last.values().stream().allMatch(s -> s.getDigestLsn() == lsn
                    && s.getDigest().equals(last.get(leader).getDigest()));
            if (same) {
                return last;
            }
            sleep(100);
        }
        StringBuilder sb = new StringBuilder("replicas did not converge:\n");
        last.forEach((id, s) -> sb.append(id).append(": lsn ").append(s.getDigestLsn()).append(" digest ").append(s.getDigest())
                .append(" info ").append(s.getInfo().toString().replace('\n', ' ')).append('\n'));
        throw new AssertionError(sb.toString());
    }

    public static void awaitTrue(Duration timeout, java.util.function.BooleanSupplier cond, java.util.function.Supplier<String> message) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (cond.getAsBoolean()) {
                    return;
                }
            } catch (RuntimeException e) {
                // not answering yet
            }
            sleep(50);
        }
        throw new AssertionError(message.get());
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public List<Path> rollbackFiles(String id) {
        Path dir = dataDir(id).resolve("rollback");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String logTails() {
        StringBuilder sb = new StringBuilder();
        processes.forEach((id, p) -> sb.append("---- ").append(id).append(" ----\n").append(p.logTail(30)).append('\n'));
        return sb.toString();
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ServiceProcess p : processes.values()) {
            if (p.isAlive()) {
                try {
                    p.resume();
                } catch (RuntimeException e) {
                    // not paused
                }
            }
            p.stop();
        }
    }
}
