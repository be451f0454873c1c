package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowRequest;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.Member;
import dev.tandem.proto.Op;
import dev.tandem.proto.Position;
import dev.tandem.proto.PromoteRequest;
import dev.tandem.proto.Put;
import dev.tandem.proto.ReplicationServiceGrpc;
import dev.tandem.proto.SnapshotRequest;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import dev.tandem.proto.KvCall;
import dev.tandem.proto.KvResult;
import dev.tandem.proto.KvServiceGrpc;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Hostile or malformed requests get a typed error and leave every replica's state as it was. */
class BadInputIT {

    static ReplicaCluster c;
    static StatusResponse before;

    @BeforeAll
    static void up() {
        c = new ReplicaCluster("bad-input", 3, Map.of("tandem.replica.max-value-bytes", "4096")).startAll();
        c.form("r1", 3);
        WriteResponse w = c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ALL)
                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("keep").setValue(ByteString.copyFromUtf8("safe")))).build());
        assertEquals(ErrorCode.OK, w.getError().getCode());
        before = c.awaitConverged("r1", c.ids(), Duration.ofSeconds(10)).get("r1");
    }

    @AfterAll
    static void down() {
        if (c == null) {
            return; // startAll failed and already stopped what it started
        }
        // Every rejection above must have left the state untouched, on every replica.
        try {
            StatusResponse after = c.awaitConverged("r1", c.ids(), Duration.ofSeconds(10)).get("r1");
            assertEquals(before.getDigest(), after.getDigest(), "state changed by rejected requests");
            assertEquals(before.getDigestLsn(), after.getDigestLsn());
            assertEquals("safe", c.kv("r2").get(GetRequest.newBuilder().setKey("keep").build()).getValue().toStringUtf8());
            for (String id : c.ids()) {
                assertTrue(c.process(id).isAlive(), id + " died");
            }
        } finally {
            c.close();
        }
    }

    private static ErrorCode write(WriteRequest r) {
        return c.kv("r1").write(r).getError().getCode();
    }

    private static Op put(String key, int valueBytes) {
        return Op.newBuilder().setPut(Put.newBuilder().setKey(key).setValue(ByteString.copyFrom(new byte[valueBytes]))).build();
    }

    @Test
    void oversizedKeyValueAndBatchAreRejectedWithTheirCodes() {
        assertEquals(ErrorCode.KEY_TOO_LARGE, write(WriteRequest.newBuilder().addOps(put("k".repeat(1025), 1)).build()));
        assertEquals(ErrorCode.VALUE_TOO_LARGE, write(WriteRequest.newBuilder().addOps(put("k", 4097)).build()));
        WriteRequest.Builder many = WriteRequest.newBuilder();
        for (int i = 0; i < 1001; i++) {
            many.addOps(put("m" + i, 1));
        }
        assertEquals(ErrorCode.BATCH_TOO_LARGE, write(many.build()));
        WriteResponse r = c.kv("r1").write(WriteRequest.newBuilder().addOps(put("ok", 1)).addOps(put("k".repeat(2000), 1)).build());
        assertEquals(1, r.getError().getOpIndex(), "the error names the offending op");
    }

    @Test
    void malformedWritesAreInvalidArgument() {
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().addOps(put("", 1)).build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().addOps(Op.newBuilder().build()).build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().setWriteConcernValue(42).addOps(put("x", 1)).build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().addOps(put("dup", 1)).addOps(put("dup", 1)).build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, c.kv("r1").get(GetRequest.newBuilder().setKey("").build()).getError().getCode());
        // uint64 positions at or above 2^63 (negative as Java longs) are refused, not crashed on.
        Position huge = Position.newBuilder().setEpoch(-1).setLsn(-5).build();
        assertEquals(ErrorCode.INVALID_ARGUMENT, write(WriteRequest.newBuilder().addOps(Op.newBuilder().setPut(Put.newBuilder()
                .setKey("x").setCondition(Condition.newBuilder().setExpectedVersion(huge)))).build()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, c.kv("r2").get(GetRequest.newBuilder().setKey("keep")
                .setRead(dev.tandem.proto.ReadRequirement.newBuilder().setMinPosition(huge)).build()).getError().getCode());
        assertEquals(ErrorCode.INVALID_ARGUMENT, c.admin("r3").promote(PromoteRequest.newBuilder().setEpoch(-1).build()).getError().getCode());
    }

    @Test
    void pipelinedCallsGetTheSameTypedErrorsAndAnEmptyCallIsRefused() throws Exception {
        // The raw stream (not KvPipeline, which never sends an empty call): one result per call id.
        BlockingQueue<KvResult> results = new LinkedBlockingQueue<>();
        StreamObserver<KvCall> calls = KvServiceGrpc.newStub(c.channel("r1")).pipeline(new StreamObserver<>() {
            @Override public void onNext(KvResult r) { results.add(r); }
            @Override public void onError(Throwable t) { }
            @Override public void onCompleted() { }
        });
        calls.onNext(KvCall.newBuilder().setCallId(1).build());
        calls.onNext(KvCall.newBuilder().setCallId(2).setTimeoutMs(5_000).setWrite(WriteRequest.newBuilder().addOps(put("k".repeat(1025), 1))).build());
        calls.onNext(KvCall.newBuilder().setCallId(3).setTimeoutMs(5_000).setGet(GetRequest.newBuilder().setKey("")).build());
        calls.onNext(KvCall.newBuilder().setCallId(4).setTimeoutMs(5_000).setGet(GetRequest.newBuilder().setKey("keep")).build());
        java.util.Map<Long, KvResult> byId = new java.util.HashMap<>();
        for (int i = 0; i < 4; i++) {
            KvResult r = results.poll(10, TimeUnit.SECONDS);
            assertTrue(r != null, "an answer for every call");
            byId.put(r.getCallId(), r);
        }
        calls.onCompleted();
        assertEquals(ErrorCode.INVALID_ARGUMENT, byId.get(1L).getError().getCode());
        assertEquals(ErrorCode.KEY_TOO_LARGE, byId.get(2L).getWrite().getError().getCode());
        assertEquals(ErrorCode.INVALID_ARGUMENT, byId.get(3L).getGet().getError().getCode());
        assertEquals("safe", byId.get(4L).getGet().getValue().toStringUtf8());
    }

    @Test
    void failedConditionIsTypedAndWritesNothing() {
        WriteResponse r = c.kv("r1").write(WriteRequest.newBuilder()
                .addOps(put("cas-new", 1))
                .addOps(Op.newBuilder().setDelete(Delete.newBuilder().setKey("keep")
                        .setCondition(Condition.newBuilder().setExpectedVersion(Position.newBuilder().setEpoch(1).setLsn(999))))).build());
        assertEquals(ErrorCode.CONDITION_FAILED, r.getError().getCode());
        assertEquals(1, r.getError().getOpIndex());
        assertTrue(!c.kv("r1").get(GetRequest.newBuilder().setKey("cas-new").build()).getFound());
    }

    @Test
    void writesToAFollowerAreRefusedWithALeaderHint() {
        WriteResponse r = c.kv("r2").write(WriteRequest.newBuilder().addOps(put("f", 1)).build());
        assertEquals(ErrorCode.NOT_LEADER, r.getError().getCode());
        assertEquals("r1", r.getError().getLeaderId());
        assertEquals(c.process("r1").address(), r.getError().getLeaderAddress());
    }

    @Test
    void commandsFromALowerEpochAreFenced() {
        assertEquals(ErrorCode.FENCED, c.admin("r2").promote(PromoteRequest.newBuilder().setEpoch(2).addAllMembers(c.members()).build())
                .getError().getCode());
        assertEquals(ErrorCode.FENCED, c.admin("r2").follow(FollowRequest.newBuilder().setEpoch(1).setLeader(c.member("r3"))
                .addAllMembers(c.members()).build()).getError().getCode());
        assertEquals(ErrorCode.INVALID_ARGUMENT, c.admin("r2").promote(PromoteRequest.newBuilder().setEpoch(0).build()).getError().getCode());
        assertEquals(ErrorCode.INVALID_ARGUMENT, c.admin("r2").follow(FollowRequest.newBuilder().setEpoch(3)
                .setLeader(Member.newBuilder().setId("r2").setAddress("127.0.0.1:1")).build()).getError().getCode());
    }

    @Test
    void adminAndReplicationWithoutTheSecretAreUnauthenticated() {
        var ch = c.channel("r1");
        StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
                () -> AdminServiceGrpc.newBlockingStub(ch).status(StatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
        Metadata wrong = new Metadata();
        wrong.put(dev.tandem.common.ClusterSecret.METADATA_KEY, "not-the-secret-at-all");
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class,
                () -> AdminServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wrong))
                        .promote(PromoteRequest.newBuilder().setEpoch(99).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, bad.getStatus().getCode());
        StatusRuntimeException snap = assertThrows(StatusRuntimeException.class,
                () -> ReplicationServiceGrpc.newBlockingStub(ch).fetchSnapshot(SnapshotRequest.newBuilder().setFollowerId("evil").build()).next());
        assertEquals(Status.Code.UNAUTHENTICATED, snap.getStatus().getCode());
        // The KV service stays open.
        assertEquals(ErrorCode.OK, c.kv("r1").get(GetRequest.newBuilder().setKey("keep").build()).getError().getCode());
    }

    @Test
    void statusIsServedAsJsonOverHttp() throws Exception {
        var conn = (java.net.HttpURLConnection) java.net.URI.create(c.process("r1").httpUrl() + "/v1/replica/status").toURL().openConnection();
        assertEquals(200, conn.getResponseCode());
        String body = new String(conn.getInputStream().readAllBytes());
        assertTrue(body.contains("\"role\":\"ROLE_LEADER\""), body);
        assertTrue(body.contains("\"digest\":\"\""), "no digest unless asked: " + body);

        // The digest reads the whole state: only with the cluster secret.
        String digestUrl = c.process("r1").httpUrl() + "/v1/replica/status?digest=true";
        var refused = (java.net.HttpURLConnection) java.net.URI.create(digestUrl).toURL().openConnection();
        refused.setRequestProperty("Tandem-Cluster-Secret", "wrong-secret-0123456789");
        assertEquals(401, refused.getResponseCode());
        assertEquals("application/problem+json", refused.getContentType());
        String problem = new String(refused.getErrorStream().readAllBytes());
        assertTrue(problem.contains("\"code\":\"UNAUTHENTICATED\"") && problem.contains("Tandem-Cluster-Secret"), problem);
        var allowed = (java.net.HttpURLConnection) java.net.URI.create(digestUrl).toURL().openConnection();
        allowed.setRequestProperty("Tandem-Cluster-Secret", ReplicaCluster.SECRET);
        assertEquals(200, allowed.getResponseCode());
        String withDigest = new String(allowed.getInputStream().readAllBytes());
        assertTrue(withDigest.matches(".*\"digest\":\"[0-9a-f]{64}\".*"), withDigest);

        assertEquals(200, c.process("r1").httpStatus("/q/health/ready"));
        assertEquals(200, c.process("r2").httpStatus("/q/health/ready"));
        var m = (java.net.HttpURLConnection) java.net.URI.create(c.process("r1").httpUrl() + "/q/metrics").toURL().openConnection();
        String metrics = new String(m.getInputStream().readAllBytes());
        for (String name : new String[] {"tandem_replica_epoch", "tandem_replica_is_leader", "tandem_replica_role",
                "tandem_replica_applied_lsn", "tandem_replica_lease_valid", "tandem_replica_group_commit_entries",
                "tandem_replica_fsync_seconds_bucket", "tandem_replica_rollback_entries_total",
                "tandem_replica_write_concern_wait_seconds_bucket", "tandem_replica_follower_lag_entries"}) {
            assertTrue(metrics.contains(name), "metric " + name + " missing");
        }
    }
}
