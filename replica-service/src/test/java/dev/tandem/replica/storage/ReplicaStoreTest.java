package dev.tandem.replica.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Mutation;
import dev.tandem.proto.OpResult;
import dev.tandem.proto.PutValue;
import dev.tandem.replica.core.DurableMeta;
import dev.tandem.replica.core.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;

class ReplicaStoreTest {

    private Path dir;

    @BeforeEach
    void freshDir() throws Exception {
        Path base = Path.of("target", "unit-data");
        Files.createDirectories(base);
        dir = Files.createTempDirectory(base, "store-");
    }

    private static Mutation put(String k, String v) {
        return Mutation.newBuilder().setPut(PutValue.newBuilder().setKey(k).setValue(ByteString.copyFromUtf8(v)).setContentType("text/plain")).build();
    }

    private static Mutation del(String k) {
        return Mutation.newBuilder().setDeleteKey(k).build();
    }

    /** Checkpoints {@code leader} and copies the files to {@code incoming}, as a fetch would; returns its position. */
    private static LogPosition shipCheckpoint(ReplicaStore leader, Path leaderDir, Path incoming) throws java.io.IOException {
        Path cp = leaderDir.resolve("snapshots/snap");
        LogPosition at = leader.checkpoint(cp);
        Files.createDirectories(incoming);
        for (Path f : ReplicaStore.filesOf(cp)) {
            Files.copy(f, incoming.resolve(f.getFileName()));
        }
        return at;
    }

    /** Commits one entry in a batch of its own. */
    private static void commitOne(ReplicaStore s, LogEntry e) {
        ReplicaStore.Batch b = s.newBatch();
        b.append(e);
        s.commit(b);
    }

    private static LogEntry entry(long epoch, long lsn, String requestId, Mutation... ms) {
        return LogEntry.newBuilder().setEpoch(epoch).setLsn(lsn).setTimestampMs(1000 + lsn).setRequestId(requestId)
                .addAllMutations(List.of(ms)).build();
    }

    private static DurableMeta meta(long epoch, EpochHistory h) {
        return new DurableMeta(epoch, h, Role.FOLLOWER, "r1", List.of("r1", "r2"));
    }

    private static String value(ReplicaStore s, String key) {
        return s.get(key).map(v -> new String(v.value())).orElse(null);
    }

    @Test
    void appendAppliesMutationsAndAdvancesAppliedInOneBatch() {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            ReplicaStore.Batch b = s.newBatch();
            b.append(entry(1, 1, "a", put("x", "1"), put("y", "1")));
            b.append(entry(1, 2, "b", put("x", "2"), del("y")));
            // Later entries in a batch see earlier ones (the leader's overlay).
            assertEquals("2", new String(b.current("x").orElseThrow().value()));
            assertTrue(b.current("y").isEmpty());
            // Nothing is visible before the synced write.
            assertEquals(LogPosition.ZERO, s.applied());
            assertTrue(s.get("x").isEmpty());
            s.commit(b);
            assertEquals(new LogPosition(1, 2), s.applied());
            assertEquals("2", value(s, "x"));
            assertEquals(new LogPosition(1, 2), s.get("x").orElseThrow().version());
            assertTrue(s.get("y").isEmpty());
            assertEquals(2, s.readEntries(1, 10, Long.MAX_VALUE).size());
        }
    }

    @Test
    void aBatchStagedBehindOneBeingWrittenSeesItsChangesAndCommitsAfterIt() throws Exception {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            ReplicaStore.Batch first = s.newBatch();
            first.append(entry(1, 1, "a", put("x", "1"), put("y", "1"), put("z", "1")));
            ReplicaStore.Batch second = s.newBatchAfter(first);
            // Before the first is durable, the second already resolves against it.
            assertEquals("1", new String(second.current("x").orElseThrow().value()));
            assertThrows(IllegalStateException.class, () -> second.append(entry(1, 1, "", put("x", "dup"))));
            second.append(entry(1, 2, "b", put("x", "2"), del("y")));
            // The first is written on another thread (the replica's syncer) while the second waits.
            var writer = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                writer.submit(() -> s.commit(first)).get();
            } finally {
                writer.shutdown();
            }
            assertEquals(new LogPosition(1, 1), s.applied());
            second.predecessorCommitted();
            assertEquals("1", new String(second.current("z").orElseThrow().value()), "reads through to the store now");
            assertTrue(second.current("y").isEmpty(), "its own changes still first");
            s.commit(second);
            assertEquals(new LogPosition(1, 2), s.applied());
            assertEquals("2", new String(s.get("x").orElseThrow().value()));
            assertTrue(s.get("y").isEmpty());
        }
    }

    @Test
    void appendOutOfOrderIsAProgrammerError() {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            ReplicaStore.Batch b = s.newBatch();
            assertThrows(IllegalStateException.class, () -> b.append(entry(1, 2, "", put("x", "1"))));
            b.close();
        }
    }

    @Test
    void restartRecoversEverythingFlushed() {
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "r1");
        String digest;
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            for (int i = 1; i <= 50; i++) {
                ReplicaStore.Batch b = s.newBatch();
                b.append(entry(1, i, "req" + i, put("k" + (i % 7), "v" + i)));
                b.setMeta(meta(1, h));
                s.commit(b);
            }
            s.persistMeta(meta(1, h), Map.of("r1", "127.0.0.1:1"));
            digest = s.digest().sha256Hex();
        }
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            assertEquals(new LogPosition(1, 50), s.applied());
            assertEquals(meta(1, h), s.meta());
            assertEquals("127.0.0.1:1", s.addresses().get("r1"));
            assertEquals("v49", value(s, "k0"));
            assertEquals(digest, s.digest().sha256Hex());
            assertEquals(50, s.digest().applied().lsn());
        }
    }

    @Test
    void truncationWritesRollbackFileThenRestoresThePreviousState() throws Exception {
        EpochHistory h1 = EpochHistory.empty().withEpoch(1, 1, "r1");
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            ReplicaStore.Batch b = s.newBatch();
            b.append(entry(1, 1, "a", put("keep", "k1"), put("changed", "old")));
            b.append(entry(1, 2, "b", put("deleted", "here")));
            s.commit(b);
            String digestAt2 = s.digest().sha256Hex();
            ReplicaStore.Batch b2 = s.newBatch();
            b2.append(entry(1, 3, "c", put("changed", "new"), put("created", "x")));
            b2.append(entry(1, 4, "d", del("deleted"), put("changed", "newer")));
            s.commit(b2);
            assertNotEquals(digestAt2, s.digest().sha256Hex());

            EpochHistory h2 = h1.withEpoch(2, 3, "r2");
            ReplicaStore.Truncation t = s.truncateAfter(2, meta(2, h2), 5000);
            assertEquals(2, t.removed().size());
            assertEquals(new LogPosition(1, 2), s.applied());
            assertEquals("old", value(s, "changed"));
            assertEquals("here", value(s, "deleted"));
            assertFalse(s.get("created").isPresent());
            assertEquals(digestAt2, s.digest().sha256Hex(), "state after truncation equals the state at the truncation point");
            assertTrue(s.readEntry(3).isEmpty());
            // Staging remembered the newer states; after the rollback it must see the restored ones.
            try (ReplicaStore.Batch next = s.newBatch()) {
                assertEquals("old", new String(next.current("changed").orElseThrow().value()));
                assertEquals("here", new String(next.current("deleted").orElseThrow().value()));
                assertTrue(next.current("created").isEmpty());
            }

            List<String> lines = Files.readAllLines(t.rollbackFile());
            assertEquals(2, lines.size());
            JsonNode first = new ObjectMapper().readTree(lines.get(0));
            assertEquals(3, first.get("lsn").asLong());
            assertEquals(1, first.get("epoch").asLong());
            assertEquals("c", first.get("requestId").asText());
            assertEquals(2, first.get("truncatedInEpoch").asLong());
            assertEquals("new", new String(Base64.getDecoder().decode(first.get("mutations").get(0).get("value").asText())));
            assertEquals("delete", new ObjectMapper().readTree(lines.get(1)).get("mutations").get(0).get("op").asText());
            assertTrue(t.rollbackFile().getFileName().toString().startsWith("rollback-2-"));
            assertEquals(2, s.rollbackFiles().countEntries());

            // The log continues from the truncation point in the new epoch.
            commitOne(s, entry(2, 3, "e", put("changed", "epoch2")));
            assertEquals("epoch2", value(s, "changed"));
        }
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            assertEquals(new LogPosition(2, 3), s.applied());
            assertEquals(2, s.meta().epoch());
        }
    }

    @Test
    void scanPagesByPrefixWithCursor() {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            commitOne(s, entry(1, 1, "", put("a/1", "1"), put("a/2", "2"), put("a/3", "3"), put("b/1", "x"), put("a", "root")));
            ReplicaStore.ScanPage p1 = s.scan("a/", "", 2, Long.MAX_VALUE);
            assertEquals(List.of("a/1", "a/2"), p1.items().stream().map(ReplicaStore.KeyState::key).toList());
            assertEquals("a/2", p1.nextCursor());
            ReplicaStore.ScanPage p2 = s.scan("a/", p1.nextCursor(), 2, Long.MAX_VALUE);
            assertEquals(List.of("a/3"), p2.items().stream().map(ReplicaStore.KeyState::key).toList());
            assertEquals("", p2.nextCursor());
            assertEquals(new LogPosition(1, 1), p2.applied());
        }
    }

    @Test
    void scanPagesStopAtTheByteBudgetButHoldAtLeastOneItem() {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            // Each item is a 3-byte key, a 10-byte value and "text/plain": 23 bytes.
            commitOne(s, entry(1, 1, "", put("a/1", "0123456789"), put("a/2", "0123456789"), put("a/3", "0123456789")));
            ReplicaStore.ScanPage p1 = s.scan("a/", "", 100, 46);
            assertEquals(List.of("a/1", "a/2"), p1.items().stream().map(ReplicaStore.KeyState::key).toList());
            assertEquals("a/2", p1.nextCursor());
            ReplicaStore.ScanPage p2 = s.scan("a/", p1.nextCursor(), 100, 46);
            assertEquals(List.of("a/3"), p2.items().stream().map(ReplicaStore.KeyState::key).toList());
            assertEquals("", p2.nextCursor());
            ReplicaStore.ScanPage tiny = s.scan("a/", "", 100, 1);
            assertEquals(List.of("a/1"), tiny.items().stream().map(ReplicaStore.KeyState::key).toList(), "an item over the budget still makes a page");
            assertEquals("a/1", tiny.nextCursor());
        }
    }

    @Test
    void compactionDropsOldEntriesButKeepsState() {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            for (int i = 1; i <= 10; i++) {
                commitOne(s, entry(1, i, "", put("k", "v" + i)));
            }
            s.compactBefore(8);
            assertEquals(8, s.logStartLsn());
            assertTrue(s.readEntry(7).isEmpty());
            assertEquals(3, s.readEntries(1, 10, Long.MAX_VALUE).size());
            assertEquals("v10", value(s, "k"));
        }
    }

    @Test
    void checkpointInstallsAsANewStoreWithAnEmptyLog() throws Exception {
        Path leaderDir = dir.resolve("leader");
        Path followerDir = dir.resolve("follower");
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "r1");
        try (ReplicaStore leader = ReplicaStore.open(leaderDir); ReplicaStore follower = ReplicaStore.open(followerDir)) {
            // A state the follower staged itself, which the snapshot replaces.
            commitOne(follower, entry(1, 1, "", put("a", "follower's own")));
            ReplicaStore.Batch b = leader.newBatch();
            b.append(entry(1, 1, "", put("a", "1")));
            b.append(entry(1, 2, "", put("b", "2")));
            leader.commit(b);
            Path incoming = followerDir.resolve("incoming-1");
            LogPosition at = shipCheckpoint(leader, leaderDir, incoming);
            follower.installSnapshot(incoming, at, meta(1, h), Map.of("r1", "127.0.0.1:1"));
            assertEquals(at, follower.applied());
            assertEquals(3, follower.logStartLsn());
            assertEquals("2", value(follower, "b"));
            try (ReplicaStore.Batch next = follower.newBatch()) {
                assertEquals("1", new String(next.current("a").orElseThrow().value()), "staging reads the installed state");
            }
            assertEquals(leader.digest().sha256Hex(), follower.digest().sha256Hex());
            assertEquals(Role.FOLLOWER, follower.meta().role());
            commitOne(follower, entry(1, 3, "", put("c", "3")));
            assertEquals("3", value(follower, "c"));
        }
    }

    private static List<String> ids(ReplicaStore s) {
        return s.requestIds().stream().map(ReplicaStore.RequestId::requestId).toList();
    }

    @Test
    void requestIdsSurviveCompactionAndACheckpointInstalledIntoAFreshStore() throws Exception {
        Path leaderDir = dir.resolve("leader");
        Path followerDir = dir.resolve("follower");
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "r1");
        try (ReplicaStore leader = ReplicaStore.open(leaderDir)) {
            ReplicaStore.Batch b = leader.newBatch();
            b.append(entry(1, 1, "req-a", put("a", "1")));
            b.append(entry(1, 2, "", put("b", "2")));
            b.append(entry(1, 3, "req-c", put("c", "3")));
            leader.commit(b);
            // The whole log goes (behind every follower): the request ids must not go with it.
            leader.compactBefore(4);
            assertTrue(leader.readEntries(1, 3, Long.MAX_VALUE).isEmpty());
            assertEquals(List.of("req-a", "req-c"), ids(leader));

            Path incoming = followerDir.resolve("incoming-1");
            LogPosition at = shipCheckpoint(leader, leaderDir, incoming);
            try (ReplicaStore follower = ReplicaStore.open(followerDir)) {
                follower.installSnapshot(incoming, at, meta(1, h), Map.of("r1", "127.0.0.1:1"));
                assertEquals(4, follower.logStartLsn());
                assertTrue(follower.readEntries(1, 3, Long.MAX_VALUE).isEmpty(), "the follower has no log before the snapshot");
                assertEquals(List.of(new ReplicaStore.RequestId("req-a", new LogPosition(1, 1), 1001, ByteString.EMPTY),
                        new ReplicaStore.RequestId("req-c", new LogPosition(1, 3), 1003, ByteString.EMPTY)), follower.requestIds());
                commitOne(follower, entry(1, 4, "req-d", put("d", "4")));
            }
        }
        // ... and they are durable in the installed store.
        try (ReplicaStore follower = ReplicaStore.open(followerDir)) {
            assertEquals(List.of("req-a", "req-c", "req-d"), ids(follower));
            assertEquals(new LogPosition(1, 3), follower.requestIds().get(1).position());
        }
    }

    @Test
    void requestIdsArePrunedByTheWindowsCountInSteps() {
        int n = ReplicaStore.REQUEST_ID_PRUNE_STEP + 76;
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            s.retainRequestIds(10, Long.MAX_VALUE);
            ReplicaStore.Batch b = s.newBatch();
            for (int i = 1; i <= n; i++) {
                b.append(entry(1, i, "req" + i, put("k", "v" + i)));
            }
            s.commit(b);
            List<ReplicaStore.RequestId> kept = s.requestIds();
            assertEquals(10, kept.size());
            assertEquals(n - 9, kept.get(0).position().lsn(), "the newest ten are kept");
            // Below the step nothing is pruned: the family holds at most the window plus a step.
            for (int i = n + 1; i <= n + 20; i++) {
                commitOne(s, entry(1, i, "req" + i, put("k", "v" + i)));
            }
            assertEquals(30, s.requestIds().size());
        }
        // After a restart the store still knows what it holds, and prunes it at the next step.
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            s.retainRequestIds(10, Long.MAX_VALUE);
            long last = s.applied().lsn();
            ReplicaStore.Batch b = s.newBatch();
            for (long i = last + 1; i <= last + ReplicaStore.REQUEST_ID_PRUNE_STEP; i++) {
                b.append(entry(1, i, "req" + i, put("k", "v" + i)));
            }
            s.commit(b);
            List<ReplicaStore.RequestId> kept = s.requestIds();
            assertEquals(10, kept.size());
            assertEquals("req" + (last + ReplicaStore.REQUEST_ID_PRUNE_STEP), kept.get(9).requestId());
        }
    }

    @Test
    void requestIdsArePrunedByAgeAgainstTheLogsOwnTimestamps() {
        // Every other entry has an id: a step's worth of ids.
        int n = 2 * ReplicaStore.REQUEST_ID_PRUNE_STEP;
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            s.retainRequestIds(Integer.MAX_VALUE, 100);
            ReplicaStore.Batch b = s.newBatch();
            for (int i = 1; i <= n; i++) {
                // entry() stamps lsn i with 1000 + i: the newest is 1000 + n.
                b.append(entry(1, i, i % 2 == 0 ? "req" + i : "", put("k", "v" + i)));
            }
            s.commit(b);
            List<ReplicaStore.RequestId> kept = s.requestIds();
            assertEquals(n - 100, kept.get(0).position().lsn(), "ids written more than 100 ms before the newest entry go");
            assertEquals(n, kept.get(kept.size() - 1).position().lsn());
            assertEquals(51, kept.size());
        }
    }

    @Test
    void truncationForgetsTheRolledBackRequestIds() {
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "r1").withEpoch(2, 3, "r2");
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            ReplicaStore.Batch b = s.newBatch();
            for (int i = 1; i <= 4; i++) {
                b.append(entry(1, i, "req" + i, put("k", "v" + i)));
            }
            s.commit(b);
            s.truncateAfter(2, meta(2, h), 5000);
            assertEquals(List.of("req1", "req2"), ids(s));
            commitOne(s, entry(2, 3, "req3-again", put("k", "w")));
        }
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            assertEquals(List.of("req1", "req2", "req3-again"), ids(s));
            assertEquals(new LogPosition(2, 3), s.requestIds().get(2).position());
        }
    }

    private static final ByteString FINGERPRINT = ByteString.copyFromUtf8("sha-256-of-the-request-ops-32-b!");

    private static LogEntry withRequest(LogEntry e, boolean existed) {
        OpResult.Builder r = OpResult.newBuilder().setExisted(existed);
        if (existed) {
            r.setPreviousVersion(new LogPosition(1, 1).toProto());
        }
        return e.toBuilder().setRequestFingerprint(FINGERPRINT).addResults(r).build();
    }

    @Test
    void fingerprintsAndOriginalResultsOutliveTheLogAndTravelInACheckpoint() throws Exception {
        Path leaderDir = dir.resolve("leader");
        Path followerDir = dir.resolve("follower");
        EpochHistory h = EpochHistory.empty().withEpoch(1, 1, "r1");
        try (ReplicaStore leader = ReplicaStore.open(leaderDir)) {
            ReplicaStore.Batch b = leader.newBatch();
            b.append(withRequest(entry(1, 1, "req-a", put("a", "1")), false));
            b.append(withRequest(entry(1, 2, "req-b", put("a", "2")), true));
            leader.commit(b);
            assertEquals(List.of(OpResult.newBuilder().setExisted(true).setPreviousVersion(new LogPosition(1, 1).toProto()).build()),
                    leader.originalResults(new LogPosition(1, 2)).orElseThrow());
            leader.compactBefore(3);
            assertTrue(leader.readEntries(1, 2, Long.MAX_VALUE).isEmpty());
            assertFalse(leader.originalResults(new LogPosition(1, 1)).orElseThrow().get(0).getExisted(), "from the record, not the log");
            assertTrue(leader.originalResults(new LogPosition(2, 1)).isEmpty(), "another epoch's lsn 1 is another write");

            Path incoming = followerDir.resolve("incoming-1");
            LogPosition at = shipCheckpoint(leader, leaderDir, incoming);
            try (ReplicaStore follower = ReplicaStore.open(followerDir)) {
                follower.installSnapshot(incoming, at, meta(1, h), Map.of("r1", "127.0.0.1:1"));
                assertEquals(List.of(FINGERPRINT, FINGERPRINT),
                        follower.requestIds().stream().map(ReplicaStore.RequestId::fingerprint).toList());
                assertTrue(follower.originalResults(new LogPosition(1, 2)).orElseThrow().get(0).getExisted());
            }
        }
    }

    @Test
    void requestRecordsWrittenBeforeFingerprintsStillDecode() throws Exception {
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            commitOne(s, entry(1, 1, "req-old", put("a", "1")));
        }
        // Rewrite the record as the previous version of the store wrote it: epoch, timestamp, id.
        byte[] id = "req-old".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] legacy = java.nio.ByteBuffer.allocate(16 + id.length).putLong(1).putLong(1001).put(id).array();
        List<ColumnFamilyDescriptor> families = java.util.stream.Stream.of("default", "data", "log", "undo", "meta", "requests")
                .map(n -> new ColumnFamilyDescriptor(n.getBytes(java.nio.charset.StandardCharsets.UTF_8))).toList();
        List<ColumnFamilyHandle> handles = new java.util.ArrayList<>();
        try (DBOptions o = new DBOptions(); RocksDB db = RocksDB.open(o, dir.resolve("db").toString(), families, handles)) {
            db.put(handles.get(5), MetaCodec.lsnKey(1), legacy);
            // Entries of that version carried no results either.
            db.put(handles.get(2), MetaCodec.lsnKey(1), entry(1, 1, "req-old", put("a", "1")).toByteArray());
            handles.forEach(ColumnFamilyHandle::close);
        }
        try (ReplicaStore s = ReplicaStore.open(dir)) {
            assertEquals(List.of(new ReplicaStore.RequestId("req-old", new LogPosition(1, 1), 1001, ByteString.EMPTY)), s.requestIds());
            assertTrue(s.originalResults(new LogPosition(1, 1)).isEmpty());
            // New records next to the old one.
            commitOne(s, withRequest(entry(1, 2, "req-new", put("a", "2")), true));
            assertEquals(List.of(ByteString.EMPTY, FINGERPRINT), s.requestIds().stream().map(ReplicaStore.RequestId::fingerprint).toList());
        }
    }
}
