package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * A follower that falls behind the leader's retained log is re-seeded from a checkpoint plus the
 * tail, and keeps the leader's idempotency window: promoted, it recognises a retry of a write
 * that only the checkpoint (not its log) holds.
 */
class SnapshotReseedIT {

    @Test
    void followerBehindTheRetainedLogInstallsASnapshotAndConverges() throws Exception {
        try (ReplicaCluster c = new ReplicaCluster("snapshot", 3, Map.of("tandem.replica.max-retained-entries", "500")).startAll()) {
            c.form("r1", 1);
            c.process("r3").kill();
            // Written first, so that it is compacted out of r1's log before r3 is re-seeded: r3 can
            // learn this request id only from the snapshot.
            WriteRequest idem = WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ONE).setRequestId("req-before-snapshot")
                    .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("idem").setValue(ByteString.copyFromUtf8("1")))).build();
            WriteResponse first = c.kv("r1").write(idem);
            assertEquals(ErrorCode.OK, first.getError().getCode(), () -> "write failed: " + first.getError());
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> writers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int writer = t;
                writers.add(pool.submit(() -> {
                    for (int i = 0; i < 400; i++) {
                        var r = c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ONE)
                                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("s/" + writer + "/" + i)
                                        .setValue(ByteString.copyFromUtf8("v" + i)))).build());
                        assertEquals(ErrorCode.OK, r.getError().getCode(), () -> "write failed: " + r.getError());
                    }
                    return null;
                }));
            }
            for (Future<?> f : writers) {
                f.get();
            }
            pool.shutdown();
            // Retention runs once a second and compacts in steps of >= 1,000 entries.
            ReplicaCluster.awaitTrue(Duration.ofSeconds(10), () -> c.status("r1", false).getLogStartLsn() > 1000,
                    () -> "leader never compacted its log: " + c.status("r1", false));
            c.process("r3").start().awaitHttpOk("/q/health/live", ReplicaCluster.START_TIMEOUT);
            Map<String, StatusResponse> s = c.awaitConverged("r1", c.ids(), Duration.ofSeconds(40));
            assertTrue(s.get("r3").getLogStartLsn() > first.getPosition().getLsn(),
                    "r3 converged without a snapshot, or its log still holds the first write? " + s.get("r3"));
            assertEquals("v399", c.kv("r3").get(GetRequest.newBuilder().setKey("s/7/399").build()).getValue().toStringUtf8());
            // The re-seeded follower keeps streaming the tail afterwards.
            c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                    .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("after").setValue(ByteString.copyFromUtf8("x")))).build());
            c.awaitConverged("r1", c.ids(), Duration.ofSeconds(20));

            // Failover to the re-seeded follower: a retry of the write from before the snapshot is
            // answered with its original position, not applied a second time.
            c.process("r1").kill();
            assertEquals(0, c.promote("r3", 2).getError().getCodeValue(), "promote r3 failed");
            assertEquals(0, c.follow("r2", "r3", 2).getError().getCodeValue(), "r2 follow r3 failed");
            ReplicaCluster.awaitTrue(Duration.ofSeconds(10), () -> c.status("r3", false).getInfo().getAcceptingWrites(),
                    () -> "r3 never accepted writes\n" + c.logTails());
            WriteResponse retry = c.kv("r3").write(idem);
            assertEquals(ErrorCode.OK, retry.getError().getCode(), () -> "retry failed: " + retry.getError());
            assertTrue(retry.getReplayed(), () -> "retry on the re-seeded leader applied twice: " + retry);
            assertEquals(first.getPosition(), retry.getPosition());
            assertEquals(first.getResultsList(), retry.getResultsList(), "the original results travel in the snapshot too");
            WriteResponse reused = c.kv("r3").write(idem.toBuilder().setOps(0, Op.newBuilder().setPut(Put.newBuilder().setKey("idem")
                    .setValue(ByteString.copyFromUtf8("2")))).build());
            assertEquals(ErrorCode.IDEMPOTENCY_KEY_REUSED, reused.getError().getCode(), () -> "reuse not refused after re-seeding: " + reused);
            assertEquals("1", c.kv("r3").get(GetRequest.newBuilder().setKey("idem").build()).getValue().toStringUtf8());
            assertFalse(c.kv("r3").write(idem.toBuilder().setRequestId("req-after-failover").build()).getReplayed());

            // Self-fencing: with its only follower gone the leader's lease (400 ms) runs out and it
            // refuses writes with LEASE_EXPIRED and reports not ready.
            c.process("r2").kill();
            ReplicaCluster.awaitTrue(Duration.ofSeconds(5), () -> c.kv("r3").write(WriteRequest.newBuilder()
                            .setWriteConcern(WriteConcern.WRITE_CONCERN_LEADER).addOps(Op.newBuilder().setPut(Put.newBuilder()
                                    .setKey("fenced").setValue(ByteString.copyFromUtf8("x")))).build()).getError().getCode() == ErrorCode.LEASE_EXPIRED,
                    () -> "isolated leader kept accepting writes");
            assertEquals(503, c.process("r3").httpStatus("/q/health/ready"));
        }
    }
}
