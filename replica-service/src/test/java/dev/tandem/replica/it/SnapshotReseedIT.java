package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** A follower that falls behind the leader's retained log is re-seeded from a checkpoint plus the tail. */
class SnapshotReseedIT {

    @Test
    void followerBehindTheRetainedLogInstallsASnapshotAndConverges() throws Exception {
        try (ReplicaCluster c = new ReplicaCluster("snapshot", 3, Map.of("tandem.replica.max-retained-entries", "500")).startAll()) {
            c.form("r1", 1);
            c.process("r3").kill();
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
            assertTrue(s.get("r3").getLogStartLsn() > 1, "r3 converged without a snapshot? " + s.get("r3"));
            assertEquals("v399", c.kv("r3").get(GetRequest.newBuilder().setKey("s/7/399").build()).getValue().toStringUtf8());
            // The re-seeded follower keeps streaming the tail afterwards.
            c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                    .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("after").setValue(ByteString.copyFromUtf8("x")))).build());
            c.awaitConverged("r1", c.ids(), Duration.ofSeconds(20));

            // Self-fencing: with both followers gone the leader's lease (400 ms) runs out and it
            // refuses writes with LEASE_EXPIRED and reports not ready.
            c.process("r2").kill();
            c.process("r3").kill();
            ReplicaCluster.awaitTrue(Duration.ofSeconds(5), () -> c.kv("r1").write(WriteRequest.newBuilder()
                            .setWriteConcern(WriteConcern.WRITE_CONCERN_LEADER).addOps(Op.newBuilder().setPut(Put.newBuilder()
                                    .setKey("fenced").setValue(ByteString.copyFromUtf8("x")))).build()).getError().getCode() == ErrorCode.LEASE_EXPIRED,
                    () -> "isolated leader kept accepting writes");
            assertEquals(503, c.process("r1").httpStatus("/q/health/ready"));
        }
    }
}
