package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** A follower SIGKILLed under write load restarts from its disk and converges with the others. */
class FollowerCrashIT {

    @Test
    void followerKilledUnderLoadRestartsAndAllDigestsConverge() throws Exception {
        try (ReplicaCluster c = new ReplicaCluster("follower-crash", 3, Map.of()).startAll()) {
            c.form("r1", 1);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong acked = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<?>> writers = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int writer = t;
                writers.add(pool.submit(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        WriteResponse r = c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ONE)
                                .setRequestId("w" + writer + "-" + i)
                                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("k/" + writer + "/" + (i % 500))
                                        .setValue(ByteString.copyFromUtf8("v" + i)))).build());
                        if (r.hasError() && r.getError().getCodeValue() != 0) {
                            failed.incrementAndGet();
                        } else {
                            acked.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            ReplicaCluster.sleep(1500);
            long before = acked.get();
            c.process("r3").kill();
            ReplicaCluster.sleep(1500);
            long duringOutage = acked.get() - before;
            // Concern `all` cannot be met with r3 down: the answer says durable on the leader, not confirmed.
            WriteResponse all = c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                    .setConfirmTimeoutMs(300).addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("all")
                            .setValue(ByteString.copyFromUtf8("x")))).build());
            assertEquals(dev.tandem.proto.ErrorCode.NOT_CONFIRMED, all.getError().getCode(), () -> "got " + all);
            assertTrue(all.getError().getPosition().getLsn() > 0, "NOT_CONFIRMED carries the entry's position");
            c.process("r3").start().awaitHttpOk("/q/health/live", ReplicaCluster.START_TIMEOUT);
            ReplicaCluster.awaitTrue(Duration.ofSeconds(20), () -> c.status("r3", false).getInfo().getStreaming(),
                    () -> "r3 did not resume streaming after restart:\n" + c.logTails());
            ReplicaCluster.sleep(1000);
            stop.set(true);
            for (Future<?> f : writers) {
                f.get();
            }
            pool.shutdown();
            assertTrue(acked.get() > 100, "too few writes acknowledged: " + acked.get() + " (" + failed.get() + " failed)\n" + c.logTails());
            assertTrue(duringOutage > 0, "writes with concern one must continue while one follower is down");
            Map<String, StatusResponse> s = c.awaitConverged("r1", c.ids(), Duration.ofSeconds(30));
            long lsn = s.get("r1").getDigestLsn();
            assertTrue(lsn >= acked.get(), "leader applied " + lsn + " entries but " + acked.get() + " writes were acknowledged");
            assertEquals(s.get("r1").getDigest(), s.get("r3").getDigest());
            assertEquals(s.get("r1").getDigest(), s.get("r2").getDigest());
            // Four starts of three replicas in one temporary directory, one of them after SIGKILL,
            // leave one copy of RocksDB's 17 MB native library, not one per start.
            try (Stream<Path> files = Files.walk(c.tmpDir())) {
                List<String> libraries = files.map(Path::getFileName).map(Path::toString).filter(n -> n.contains("rocksdb")).toList();
                assertEquals(List.of("tandem-rocksdb", org.rocksdb.util.Environment.getJniLibraryFileName("rocksdbjni")), libraries);
            }
        }
    }
}
