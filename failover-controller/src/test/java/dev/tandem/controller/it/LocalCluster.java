package dev.tandem.controller.it;

import com.google.protobuf.ByteString;
import dev.tandem.common.ClusterSecret;
import dev.tandem.common.LogPosition;
import dev.tandem.process.FreePorts;
import dev.tandem.process.ServiceProcess;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
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
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Real processes on loopback: n replica-service fast-jars and one failover-controller fast-jar
 * (file backend), every data directory under target/. Plus a writer that keeps writing with
 * concern {@code one} to whichever replica leads, recording every acknowledged write and when.
 */
final class LocalCluster implements AutoCloseable {

    static final String SECRET = "it-controller-secret-0123456789";

    final Path baseDir;
    final Map<String, ServiceProcess> replicas = new LinkedHashMap<>();
    final ServiceProcess controller;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    LocalCluster(String name, int n) {
        baseDir = Path.of("target", "it-data", name + "-" + System.currentTimeMillis()).toAbsolutePath();
        try {
            Files.createDirectories(baseDir.resolve("tmp"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path replicaJar = snapshotOf(ServiceProcess.moduleJar("replica-service"), baseDir.resolve("replica-app"));
        List<String> list = new ArrayList<>();
        java.util.Set<Integer> taken = new java.util.HashSet<>();
        for (int i = 1; i <= n; i++) {
            String id = "r" + i;
            int port = distinctPort(taken);
            replicas.put(id, new ServiceProcess(ServiceProcess.Spec.of(id, replicaJar, port, baseDir.resolve(id + ".log"))
                    .withProperty("tandem.replica.id", id)
                    .withProperty("tandem.replica.data-dir", baseDir.resolve(id).toString())
                    .withProperty("java.io.tmpdir", baseDir.resolve("tmp").toString())
                    .withEnv("TANDEM_CLUSTER_SECRET", SECRET)));
            list.add(id + "=127.0.0.1:" + port);
        }
        controller = new ServiceProcess(ServiceProcess.Spec.of("controller", ServiceProcess.moduleJar("failover-controller"),
                        distinctPort(taken), baseDir.resolve("controller.log"))
                .withProperty("tandem.controller.replicas", String.join(",", list))
                .withProperty("tandem.controller.state.backend", "file")
                .withProperty("tandem.controller.state.file", baseDir.resolve("cluster-state.json").toString())
                .withProperty("java.io.tmpdir", baseDir.resolve("tmp").toString())
                .withEnv("TANDEM_CLUSTER_SECRET", SECRET));
    }

    /**
     * Snapshots the replica fast-jar directory (quarkus-app) and runs the snapshot: other modules' builds
     * re-package replica-service while these tests run, and a replica restarted mid-test must
     * not find its libraries gone.
     */
    private static Path snapshotOf(Path runJar, Path target) {
        Path app = runJar.getParent();
        for (int attempt = 0; attempt < 60; attempt++) {
            try {
                if (Files.isRegularFile(runJar) && Files.isDirectory(app.resolve("lib/main"))) {
                    return ServiceProcess.snapshotFastJar(runJar, target);
                }
            } catch (UncheckedIOException e) {
                // being rebuilt right now: try again shortly
            }
            sleep(1_000);
        }
        throw new IllegalStateException(runJar + " not available (build replica-service: ./mvnw -pl replica-service package -DskipTests)");
    }

    /** The kernel may hand out the same free port twice in a row; every process needs its own. */
    private static int distinctPort(java.util.Set<Integer> taken) {
        for (int attempt = 0; attempt < 100; attempt++) {
            int p = FreePorts.pick();
            if (taken.add(p)) {
                return p;
            }
        }
        throw new IllegalStateException("no distinct free port after 100 attempts");
    }

    /** Starts every process; on failure stops what it started, so no process outlives the test. */
    LocalCluster start() {
        try {
            replicas.values().forEach(ServiceProcess::start);
            controller.start();
            replicas.values().forEach(p -> p.awaitHttpOk("/q/health/live", Duration.ofSeconds(60)));
            controller.awaitHttpOk("/q/health/live", Duration.ofSeconds(60));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        return this;
    }

    private ManagedChannel channel(String id) {
        return channels.computeIfAbsent(id, i -> ManagedChannelBuilder.forTarget(replicas.get(i).address()).usePlaintext().build());
    }

    KvServiceGrpc.KvServiceBlockingStub kv(String id, long deadlineMs) {
        ManagedChannel ch = channel(id);
        ch.resetConnectBackoff();
        return KvServiceGrpc.newBlockingStub(ch).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS);
    }

    StatusResponse status(String id) {
        return AdminServiceGrpc.newBlockingStub(channel(id))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ClusterSecret.of(SECRET).asMetadata()))
                .withDeadlineAfter(2, TimeUnit.SECONDS).status(StatusRequest.getDefaultInstance());
    }

    /** The replica that says it accepts writes in the newest epoch, if any answers so. */
    Optional<String> writableLeader() {
        String best = null;
        long bestEpoch = -1;
        for (String id : replicas.keySet()) {
            try {
                ReplicaInfo info = kv(id, 100).info(InfoRequest.getDefaultInstance());
                if (info.getAcceptingWrites() && info.getEpoch() > bestEpoch) {
                    best = id;
                    bestEpoch = info.getEpoch();
                }
            } catch (RuntimeException e) {
                // down or not answering: not the leader we want
            }
        }
        return Optional.ofNullable(best);
    }

    String awaitLeader(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<String> l = writableLeader();
            if (l.isPresent()) {
                return l.get();
            }
            sleep(20);
        }
        throw new AssertionError("no replica accepts writes after " + timeout + "\n" + logTails());
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    String logTails() {
        StringBuilder b = new StringBuilder();
        b.append("--- controller ---\n").append(controller.logTail(40)).append('\n');
        for (ServiceProcess p : replicas.values()) {
            b.append("--- ").append(p.name()).append(" ---\n").append(p.logTail(15)).append('\n');
        }
        return b.toString();
    }

    /** One acknowledged write: key, value, position, who acknowledged it and when (nanoTime). */
    record Ack(String key, String value, LogPosition position, String servedBy, long atNanos) {}

    /**
     * Writes {@code w/<seq>} with concern {@code one} as fast as one client can, to the current
     * leader; on any failure it looks the leader up again. Only OK answers count as acknowledged.
     */
    final class Writer implements AutoCloseable {
        final List<Ack> acked = java.util.Collections.synchronizedList(new ArrayList<>());
        final AtomicLong seq = new AtomicLong();
        final AtomicBoolean running = new AtomicBoolean(true);
        volatile String leader;
        private final Thread thread;

        Writer(String prefix) {
            thread = new Thread(() -> run(prefix), "it-writer");
            thread.setDaemon(true);
            thread.start();
        }

        private void run(String prefix) {
            while (running.get()) {
                String l = leader;
                if (l == null) {
                    leader = writableLeader().orElse(null);
                    if (leader == null) {
                        sleep(2);
                    }
                    continue;
                }
                String key = prefix + "/" + seq.incrementAndGet();
                String value = "v" + key;
                try {
                    WriteResponse r = kv(l, 1_500).write(WriteRequest.newBuilder().setRequestId(key)
                            .setWriteConcern(WriteConcern.WRITE_CONCERN_ONE).setConfirmTimeoutMs(1_000)
                            .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value))))
                            .build());
                    if (!r.hasError() || r.getError().getCode() == ErrorCode.OK) {
                        acked.add(new Ack(key, value, LogPosition.of(r.getPosition()), l, System.nanoTime()));
                    } else {
                        leader = null;
                    }
                } catch (RuntimeException e) {
                    leader = null;
                }
            }
        }

        /** The first acknowledgement after {@code nanos} by a replica other than {@code not}. */
        Optional<Ack> firstAckAfter(long nanos, String not) {
            synchronized (acked) {
                return acked.stream().filter(a -> a.atNanos() > nanos && !a.servedBy().equals(not)).findFirst();
            }
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(5_000);
        }
    }

    /** Every acknowledged write must be readable from {@code leader}: returns the keys that are not. */
    List<String> missing(String leader, List<Ack> acks) {
        List<String> missing = new ArrayList<>();
        for (Ack a : acks) {
            GetResponse g = kv(leader, 5_000).get(GetRequest.newBuilder().setKey(a.key())
                    .setRead(ReadRequirement.newBuilder().setMinPosition(a.position().toProto()).setWaitMs(2_000)).build());
            if ((g.hasError() && g.getError().getCode() != ErrorCode.OK) || !g.getFound()
                    || !g.getValue().toStringUtf8().equals(a.value())) {
                missing.add(a.key() + "@" + a.position() + " by " + a.servedBy() + ": "
                        + (g.hasError() ? g.getError().getCode() + " " + g.getError().getMessage() : "found=" + g.getFound()));
            }
        }
        return missing;
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        controller.stop();
        replicas.values().forEach(ServiceProcess::stop);
    }
}
