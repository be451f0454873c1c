package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.ChangesRequest;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Leader failover with real processes: every write acknowledged with {@code one} survives the
 * leader's SIGKILL; the old leader rejoins, truncates what it alone held, and those entries are
 * in its rollback file.
 */
class FailoverIT {

    private static WriteRequest put(String key, String value, WriteConcern concern) {
        return WriteRequest.newBuilder().setWriteConcern(concern).setRequestId("req-" + key)
                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value))
                        .setContentType("text/plain"))).build();
    }

    @Test
    void promotesMostAdvancedFollowerAndOldLeaderRollsBackItsUnreplicatedWrites() throws Exception {
        // min-write-concern=leader: no lease, so the isolated leader keeps taking `leader` writes,
        // which is exactly the case whose entries must end up in a rollback file.
        try (ReplicaCluster c = new ReplicaCluster("failover", 3, Map.of("tandem.replica.min-write-concern", "leader")).startAll()) {
            c.form("r1", 1);
            // Idempotency: a retried request id is applied once and answers with the original position.
            WriteResponse first = c.kv("r1").write(put("idem", "1", WriteConcern.WRITE_CONCERN_ONE));
            WriteResponse retry = c.kv("r1").write(put("idem", "1", WriteConcern.WRITE_CONCERN_ONE));
            assertFalse(first.getReplayed());
            assertTrue(retry.getReplayed(), () -> "retry not replayed: " + retry);
            assertEquals(first.getPosition(), retry.getPosition());
            assertEquals(first.getResultsList(), retry.getResultsList(), "the retry answers with the original results");
            assertFalse(retry.getResults(0).getExisted());
            // The same request id for another write is refused, and that write does not happen.
            WriteResponse reused = c.kv("r1").write(put("idem", "other value", WriteConcern.WRITE_CONCERN_ONE));
            assertEquals(ErrorCode.IDEMPOTENCY_KEY_REUSED, reused.getError().getCode(), () -> "reuse not refused: " + reused);
            assertEquals("1", c.kv("r1").get(GetRequest.newBuilder().setKey("idem").build()).getValue().toStringUtf8());
            // A session read for a position not yet reached waits, then answers NOT_CAUGHT_UP.
            GetResponse ahead = c.kv("r2").get(GetRequest.newBuilder().setKey("idem").setRead(ReadRequirement.newBuilder()
                    .setMinPosition(new LogPosition(1, 1_000_000).toProto()).setWaitMs(100)).build());
            assertEquals(ErrorCode.NOT_CAUGHT_UP, ahead.getError().getCode());
            // ... and is served on a follower once its position is applied there.
            GetResponse session = c.kv("r2").get(GetRequest.newBuilder().setKey("idem").setRead(ReadRequirement.newBuilder()
                    .setMinPosition(first.getPosition()).setWaitMs(2000)).build());
            assertEquals("1", session.getValue().toStringUtf8(), () -> "session read: " + session);
            Map<String, String> ackedOne = new LinkedHashMap<>();
            ackedOne.put("idem", "1");
            for (int i = 0; i < 300; i++) {
                WriteResponse r = c.kv("r1").write(put("one/" + i, "v" + i, WriteConcern.WRITE_CONCERN_ONE));
                assertFalse(r.hasError() && r.getError().getCode() != ErrorCode.OK, () -> "write failed: " + r.getError());
                ackedOne.put("one/" + i, "v" + i);
            }
            // Cut both followers off and write with concern `leader`: durable on r1 only. SIGSTOP is
            // not enough here: entries the leader ships still land in the paused followers' socket
            // buffers and are applied on SIGCONT, so the followers are SIGKILLed instead.
            c.process("r2").kill();
            c.process("r3").kill();
            List<LogPosition> lonely = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                WriteResponse r = c.kv("r1").write(put("lonely/" + i, "x" + i, WriteConcern.WRITE_CONCERN_LEADER));
                assertFalse(r.hasError() && r.getError().getCode() != ErrorCode.OK, () -> "leader write failed: " + r.getError());
                lonely.add(LogPosition.of(r.getPosition()));
            }
            c.process("r1").kill();
            // The followers restart from their disks (still followers of the dead r1, epoch 1).
            c.process("r2").start().awaitHttpOk("/q/health/live", ReplicaCluster.START_TIMEOUT);
            c.process("r3").start().awaitHttpOk("/q/health/live", ReplicaCluster.START_TIMEOUT);

            // Promote the most advanced follower by (epoch, flushed lsn), as the controller would.
            StatusResponse s2 = c.status("r2", false);
            StatusResponse s3 = c.status("r3", false);
            String next = LogPosition.of(s2.getInfo().getLast()).compareTo(LogPosition.of(s3.getInfo().getLast())) >= 0 ? "r2" : "r3";
            String other = next.equals("r2") ? "r3" : "r2";
            assertEquals(1, c.promote(next, 2).getError().getCodeValue() == 0 ? 1 : 0, "promote failed");
            assertEquals(0, c.follow(other, next, 2).getError().getCodeValue());
            ReplicaCluster.awaitTrue(Duration.ofSeconds(10), () -> c.status(next, false).getInfo().getAcceptingWrites(),
                    () -> next + " never accepted writes\n" + c.logTails());

            // The retry of a write from before the failover is still recognised by the new leader.
            WriteResponse replayedAfterFailover = c.kv(next).write(put("idem", "1", WriteConcern.WRITE_CONCERN_ONE));
            assertTrue(replayedAfterFailover.getReplayed(), () -> "retry after failover applied twice: " + replayedAfterFailover);
            assertEquals(first.getPosition(), replayedAfterFailover.getPosition());
            // The new leader knows the write's fingerprint and results from the entry it received:
            // it answers as r1 did, also for a retry with another concern, and refuses a reuse.
            assertEquals(first.getResultsList(), replayedAfterFailover.getResultsList());
            WriteResponse otherConcern = c.kv(next).write(put("idem", "1", WriteConcern.WRITE_CONCERN_LEADER));
            assertTrue(otherConcern.getReplayed(), () -> "a retry with another write concern is the same write: " + otherConcern);
            WriteResponse reusedAfterFailover = c.kv(next).write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_ONE)
                    .setRequestId("req-idem").addOps(Op.newBuilder().setDelete(Delete.newBuilder().setKey("one/0"))).build());
            assertEquals(ErrorCode.IDEMPOTENCY_KEY_REUSED, reusedAfterFailover.getError().getCode(),
                    () -> "reuse not refused by the new leader: " + reusedAfterFailover);
            assertTrue(c.kv(next).get(GetRequest.newBuilder().setKey("one/0").build()).getFound(), "the refused delete happened");
            for (Map.Entry<String, String> e : ackedOne.entrySet()) {
                GetResponse g = c.kv(next).get(GetRequest.newBuilder().setKey(e.getKey()).build());
                assertTrue(g.getFound(), "acknowledged write " + e.getKey() + " lost after failover");
                assertEquals(e.getValue(), g.getValue().toStringUtf8());
            }
            // A session that saw a lonely write gets SESSION_WRITE_LOST once the new epoch wrote that lsn.
            for (int i = 0; i < 30; i++) {
                c.kv(next).write(put("epoch2/" + i, "y" + i, WriteConcern.WRITE_CONCERN_ONE));
            }
            GetResponse lost = c.kv(next).get(GetRequest.newBuilder().setKey("one/0")
                    .setRead(ReadRequirement.newBuilder().setMinPosition(lonely.get(0).toProto())).build());
            assertEquals(ErrorCode.SESSION_WRITE_LOST, lost.getError().getCode(), () -> "got " + lost);

            // The old leader comes back (restart of a leader = unassigned) and is told to follow.
            c.process("r1").start().awaitHttpOk("/q/health/live", ReplicaCluster.START_TIMEOUT);
            // A router's read cache that follows r1's changes must learn that they are rolled back:
            // its stream ends with ABORTED when r1 truncates.
            Iterator<ChangeEvent> changes = KvServiceGrpc.newBlockingStub(c.channel("r1")).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .changes(ChangesRequest.newBuilder().setHeartbeatMs(100).build());
            LogPosition streamStart = LogPosition.of(changes.next().getApplied());
            assertTrue(streamStart.epoch() == 1 && streamStart.compareTo(lonely.get(0)) >= 0,
                    () -> "r1's stream starts at " + streamStart + ", before its lonely writes");
            CompletableFuture<Status> streamEnd = CompletableFuture.supplyAsync(() -> {
                try {
                    while (changes.hasNext()) {
                        changes.next();
                    }
                    return Status.OK;
                } catch (StatusRuntimeException e) {
                    return e.getStatus();
                }
            });
            assertEquals(0, c.follow("r1", next, 2).getError().getCodeValue());
            Status ended = streamEnd.get(30, TimeUnit.SECONDS);
            assertEquals(Status.Code.ABORTED, ended.getCode(), () -> "r1's change stream ended with " + ended);
            Map<String, StatusResponse> conv = c.awaitConverged(next, c.ids(), Duration.ofSeconds(30));
            assertEquals(20, conv.get("r1").getRolledBackEntries(), "r1 must have rolled back exactly its 20 unreplicated entries");
            for (int i = 0; i < 20; i++) {
                GetResponse g = c.kv("r1").get(GetRequest.newBuilder().setKey("lonely/" + i).build());
                assertFalse(g.getFound(), "rolled-back key lonely/" + i + " still visible on r1");
            }

            List<Path> files = c.rollbackFiles("r1");
            assertEquals(1, files.size(), "one rollback file expected: " + files);
            ObjectMapper json = new ObjectMapper();
            Set<Long> lsns = new HashSet<>();
            Set<String> keys = new HashSet<>();
            for (String line : Files.readAllLines(files.get(0))) {
                JsonNode n = json.readTree(line);
                assertEquals(1, n.get("epoch").asLong());
                lsns.add(n.get("lsn").asLong());
                keys.add(n.get("mutations").get(0).get("key").asText());
                assertEquals("req-" + n.get("mutations").get(0).get("key").asText(), n.get("requestId").asText());
            }
            Set<Long> expectedLsns = new HashSet<>();
            Set<String> expectedKeys = new HashSet<>();
            for (int i = 0; i < 20; i++) {
                expectedLsns.add(lonely.get(i).lsn());
                expectedKeys.add("lonely/" + i);
            }
            assertEquals(expectedLsns, lsns);
            assertEquals(expectedKeys, keys);
        }
    }
}
