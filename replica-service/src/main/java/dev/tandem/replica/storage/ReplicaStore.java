package dev.tandem.replica.storage;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Mutation;
import dev.tandem.proto.OpResult;
import dev.tandem.replica.core.DurableMeta;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The replica's durable state in one RocksDB: column families {@code data} (key -> value,
 * content type, version), {@code log} (lsn big-endian -> LogEntry bytes), {@code undo} (lsn ->
 * the state each key had before that entry), {@code meta} (DurableMeta, applied position,
 * log start, member addresses) and {@code requests} (lsn -> request id of that entry, the
 * fingerprint of its ops and its original results, for the idempotency window).
 *
 * <p>Threading: reads ({@link #get}, {@link #scan}, {@link #digest}, {@link #readEntries}) are
 * safe from any thread. Writes ({@link #newBatch}, {@link #commit}, {@link #truncateAfter},
 * {@link #compactBefore}, {@link #installSnapshot}) come from the driver thread only: it is the one
 * writer that group-commits.
 *
 * <p>Atomicity: appending entries, applying their mutations, writing their undo records and
 * advancing the applied position are one {@link WriteBatch}, written with {@code sync=true}. So
 * after a crash the replica holds a prefix of its log, fully applied, and nothing half-applied.
 *
 * <p>Request ids: the idempotency window must outlive the log entries it was built from. Log
 * compaction follows the slowest follower, not the window, and a store installed from a snapshot
 * has no log before the snapshot point, so a new leader rebuilding its window from the log alone
 * would apply a retried write twice. The {@code requests} family keeps each entry's request id
 * (with the fingerprint that tells a retry from a reused id, and the results a retry is answered
 * with) instead, written in the same batch as the entry, pruned by the window's own bounds (see
 * {@link #retainRequestIds}) rather than by log retention, and carried in checkpoints with the
 * data it describes.
 */
public final class ReplicaStore implements AutoCloseable {

    static {
        RocksDbLibrary.load(Path.of(System.getProperty("java.io.tmpdir")));
    }

    private static final byte[] META_DURABLE = "durable".getBytes(StandardCharsets.UTF_8);
    private static final byte[] META_APPLIED = "applied".getBytes(StandardCharsets.UTF_8);
    private static final byte[] META_LOG_START = "log-start".getBytes(StandardCharsets.UTF_8);
    private static final byte[] META_ADDRESSES = "addresses".getBytes(StandardCharsets.UTF_8);

    /**
     * Request-id records are checked against the window once this many were added since the last
     * check: each pruning is a range deletion, and one per group commit would pile up tombstones
     * (and walking the old records on every commit would cost the driver thread). The family holds
     * at most the window plus this many records.
     */
    static final int REQUEST_ID_PRUNE_STEP = 1024;

    /** Memtable budget of the data family (RocksDB makes its write buffers a quarter of it). */
    static final long DATA_MEMTABLE_BUDGET_BYTES = 128L << 20;
    /** Memtable budget of each of the other families. */
    static final long LOG_MEMTABLE_BUDGET_BYTES = 64L << 20;
    /** Block cache of the data family, in MiB. */
    static final long DATA_BLOCK_CACHE_MIB = 64;
    /** Keys whose newest state staging remembers (see {@link RecentStates}), at most. */
    static final int RECENT_STATES_MAX_KEYS = 65_536;
    /** Bytes of keys and values staging remembers, at most. */
    static final long RECENT_STATES_MAX_BYTES = 16L << 20;

    private final Path dataDir;
    private final Path dbDir;
    private final RollbackFiles rollback;

    private DBOptions dbOptions;
    /** Options of the log, undo, meta and requests families: written in lsn order, read by range. */
    private ColumnFamilyOptions cfOptions;
    /** Options of the data family: every write reads the keys it changes (condition, undo record). */
    private ColumnFamilyOptions dataCfOptions;
    private RocksDB db;
    private ColumnFamilyHandle dataCf;
    private ColumnFamilyHandle logCf;
    private ColumnFamilyHandle undoCf;
    private ColumnFamilyHandle metaCf;
    private ColumnFamilyHandle requestsCf;
    private final WriteOptions syncWrite = new WriteOptions().setSync(true);
    /**
     * Readers on other threads hold the read side; installing a snapshot (which closes and reopens
     * the database) and closing hold the write side, so no reader ever touches a closed handle.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock dbLock = new java.util.concurrent.locks.ReentrantReadWriteLock();

    // Written by the driver thread after each commit, read by any thread.
    private volatile DurableMeta meta;
    private volatile LogPosition applied;
    private volatile long logStartLsn;
    private volatile Map<String, String> addresses;

    /** Lsn and timestamp of every record in {@code requests}, oldest first; driver thread only. */
    private record HeldId(long lsn, long timestampMs) {}

    private final ArrayDeque<HeldId> heldIds = new ArrayDeque<>();
    private final RecentStates recentStates = new RecentStates(RECENT_STATES_MAX_KEYS, RECENT_STATES_MAX_BYTES);
    private int idsSincePruneCheck;
    // Unbounded until the node sets the window's bounds (before its first write).
    private int requestIdMaxEntries = Integer.MAX_VALUE;
    private long requestIdMaxAgeMs = Long.MAX_VALUE;

    private ReplicaStore(Path dataDir) {
        this.dataDir = dataDir;
        this.dbDir = dataDir.resolve("db");
        this.rollback = new RollbackFiles(dataDir.resolve("rollback"));
    }

    /** Opens (or creates) the store under {@code dataDir}, finishing a snapshot swap a crash interrupted. */
    public static ReplicaStore open(Path dataDir) {
        ReplicaStore s = new ReplicaStore(dataDir);
        try {
            Files.createDirectories(dataDir);
            Path old = dataDir.resolve("db.old");
            if (Files.isDirectory(old)) {
                if (Files.isDirectory(s.dbDir)) {
                    deleteTree(old);
                } else {
                    Files.move(old, s.dbDir);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare data dir " + dataDir, e);
        }
        s.openDb();
        return s;
    }

    /**
     * The column families, in handle order, with fresh options. Every write reads the keys it
     * changes, so the data family gets RocksDB's point-lookup tuning: bloom filters in memtables
     * and table files (a read skips those that lack the key) and a block cache. Memtables are 32 MiB
     * (data) and 16 MiB (the others) rather than the level-style default of 128 MiB, which with up
     * to six memtables per family could hold gigabytes of a replica's memory.
     */
    private List<ColumnFamilyDescriptor> columnFamilies() {
        cfOptions = new ColumnFamilyOptions().optimizeLevelStyleCompaction(LOG_MEMTABLE_BUDGET_BYTES);
        dataCfOptions = new ColumnFamilyOptions().optimizeLevelStyleCompaction(DATA_MEMTABLE_BUDGET_BYTES)
                .optimizeForPointLookup(DATA_BLOCK_CACHE_MIB);
        return List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions),
                new ColumnFamilyDescriptor("data".getBytes(StandardCharsets.UTF_8), dataCfOptions),
                new ColumnFamilyDescriptor("log".getBytes(StandardCharsets.UTF_8), cfOptions),
                new ColumnFamilyDescriptor("undo".getBytes(StandardCharsets.UTF_8), cfOptions),
                new ColumnFamilyDescriptor("meta".getBytes(StandardCharsets.UTF_8), cfOptions),
                new ColumnFamilyDescriptor("requests".getBytes(StandardCharsets.UTF_8), cfOptions));
    }

    private void openDb() {
        try {
            dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
                    .setMaxBackgroundJobs(2);
            List<ColumnFamilyDescriptor> descriptors = columnFamilies();
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            Files.createDirectories(dbDir);
            db = RocksDB.open(dbOptions, dbDir.toString(), descriptors, handles);
            dataCf = handles.get(1);
            logCf = handles.get(2);
            undoCf = handles.get(3);
            metaCf = handles.get(4);
            requestsCf = handles.get(5);
            byte[] m = db.get(metaCf, META_DURABLE);
            meta = m == null ? DurableMeta.initial() : MetaCodec.meta(m);
            byte[] a = db.get(metaCf, META_APPLIED);
            applied = a == null ? LogPosition.ZERO : MetaCodec.position(a);
            byte[] ls = db.get(metaCf, META_LOG_START);
            logStartLsn = ls == null ? 1 : MetaCodec.longValue(ls);
            byte[] ad = db.get(metaCf, META_ADDRESSES);
            addresses = ad == null ? Map.of() : Map.copyOf(MetaCodec.addresses(ad));
            heldIds.clear();
            try (RocksIterator it = db.newIterator(requestsCf)) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    heldIds.add(new HeldId(MetaCodec.lsnOf(it.key()), MetaCodec.requestIdTimestamp(it.value())));
                }
            }
        } catch (RocksDBException | IOException e) {
            throw new IllegalStateException("cannot open RocksDB in " + dbDir + ": " + e.getMessage(), e);
        }
    }

    public Path dataDir() {
        return dataDir;
    }

    public RollbackFiles rollbackFiles() {
        return rollback;
    }

    public DurableMeta meta() {
        return meta;
    }

    /** Position of the last entry applied; the log ends here too (append and apply are one batch). */
    public LogPosition applied() {
        return applied;
    }

    /** The last entry of the log (equal to {@link #applied()}: entries are applied as they are appended). */
    public LogPosition last() {
        return applied;
    }

    public long logStartLsn() {
        return logStartLsn;
    }

    public Map<String, String> addresses() {
        return addresses;
    }

    // ---- reads -------------------------------------------------------------------------------

    public Optional<StoredValue> get(String key) {
        dbLock.readLock().lock();
        try {
            byte[] raw = db.get(dataCf, key.getBytes(StandardCharsets.UTF_8));
            return raw == null ? Optional.empty() : Optional.of(StoredValue.decode(raw));
        } catch (RocksDBException e) {
            throw new IllegalStateException("read of " + key + " failed", e);
        } finally {
            dbLock.readLock().unlock();
        }
    }

    public record KeyState(String key, StoredValue value) {}

    public record ScanPage(List<KeyState> items, String nextCursor, LogPosition applied) {}

    /**
     * Keys starting with {@code prefix}, after {@code afterKey} (exclusive; empty = from the
     * prefix), at most {@code limit} of them and, beyond the first, at most {@code maxBytes} of
     * keys, values and content types. Reads one RocksDB snapshot, so a page never shows half of
     * a batch; {@code applied} is the position that snapshot reflects.
     */
    public ScanPage scan(String prefix, String afterKey, int limit, long maxBytes) {
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        dbLock.readLock().lock();
        Snapshot snap = db.getSnapshot();
        try (ReadOptions ro = new ReadOptions().setSnapshot(snap);
             RocksIterator it = db.newIterator(dataCf, ro)) {
            byte[] appliedRaw = db.get(metaCf, ro, META_APPLIED);
            LogPosition at = appliedRaw == null ? LogPosition.ZERO : MetaCodec.position(appliedRaw);
            if (afterKey.isEmpty()) {
                it.seek(p);
            } else {
                byte[] after = afterKey.getBytes(StandardCharsets.UTF_8);
                it.seek(after);
                if (it.isValid() && Arrays.equals(it.key(), after)) {
                    it.next();
                }
                if (!startsWith(after, p)) {
                    // A cursor outside the prefix: start from the prefix if the cursor sorts before it.
                    if (Arrays.compareUnsigned(after, p) < 0) {
                        it.seek(p);
                    }
                }
            }
            List<KeyState> items = new ArrayList<>();
            String next = "";
            long bytes = 0;
            while (it.isValid() && startsWith(it.key(), p)) {
                StoredValue value = items.size() == limit ? null : StoredValue.decode(it.value());
                long itemBytes = value == null ? 0 : it.key().length + value.value().length + value.contentType().length();
                if (value == null || (!items.isEmpty() && bytes + itemBytes > maxBytes)) {
                    next = items.get(items.size() - 1).key();
                    break;
                }
                items.add(new KeyState(new String(it.key(), StandardCharsets.UTF_8), value));
                bytes += itemBytes;
                it.next();
            }
            return new ScanPage(items, next, at);
        } catch (RocksDBException e) {
            throw new IllegalStateException("scan of " + prefix + " failed", e);
        } finally {
            db.releaseSnapshot(snap);
            dbLock.readLock().unlock();
        }
    }

    public record Digest(String sha256Hex, LogPosition applied, long keys) {}

    /**
     * SHA-256 over every key in key order: key, version (epoch, lsn), content type and value,
     * each length-prefixed, from one RocksDB snapshot together with the applied position it
     * reflects. Two replicas at the same applied position have equal digests iff equal state.
     */
    public Digest digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        dbLock.readLock().lock();
        Snapshot snap = db.getSnapshot();
        try (ReadOptions ro = new ReadOptions().setSnapshot(snap);
             RocksIterator it = db.newIterator(dataCf, ro)) {
            byte[] appliedRaw = db.get(metaCf, ro, META_APPLIED);
            LogPosition at = appliedRaw == null ? LogPosition.ZERO : MetaCodec.position(appliedRaw);
            long n = 0;
            java.nio.ByteBuffer len = java.nio.ByteBuffer.allocate(8);
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                StoredValue v = StoredValue.decode(it.value());
                sha.update(len.clear().putInt(k.length).array(), 0, 4);
                sha.update(k);
                sha.update(len.clear().putLong(v.version().epoch()).array());
                sha.update(len.clear().putLong(v.version().lsn()).array());
                byte[] ct = v.contentType().getBytes(StandardCharsets.UTF_8);
                sha.update(len.clear().putInt(ct.length).array(), 0, 4);
                sha.update(ct);
                sha.update(len.clear().putInt(v.value().length).array(), 0, 4);
                sha.update(v.value());
                n++;
            }
            return new Digest(HexFormat.of().formatHex(sha.digest()), at, n);
        } catch (RocksDBException e) {
            throw new IllegalStateException("digest failed", e);
        } finally {
            db.releaseSnapshot(snap);
            dbLock.readLock().unlock();
        }
    }

    public Optional<LogEntry> readEntry(long lsn) {
        try {
            byte[] raw = db.get(logCf, MetaCodec.lsnKey(lsn));
            return raw == null ? Optional.empty() : Optional.of(LogEntry.parseFrom(raw));
        } catch (RocksDBException | InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot read log entry " + lsn, e);
        }
    }

    /** Entries {@code fromLsn..toLsn}, stopping once {@code maxBytes} is reached (at least one entry). */
    public List<LogEntry> readEntries(long fromLsn, long toLsn, long maxBytes) {
        List<LogEntry> out = new ArrayList<>();
        long bytes = 0;
        try (RocksIterator it = db.newIterator(logCf)) {
            for (it.seek(MetaCodec.lsnKey(fromLsn)); it.isValid(); it.next()) {
                long lsn = MetaCodec.lsnOf(it.key());
                if (lsn > toLsn) {
                    break;
                }
                byte[] v = it.value();
                if (!out.isEmpty() && bytes + v.length > maxBytes) {
                    break;
                }
                out.add(LogEntry.parseFrom(v));
                bytes += v.length;
            }
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt log entry", e);
        }
        return out;
    }

    /**
     * A logged write's request id, the position its entry got, the leader's timestamp of it and
     * the fingerprint of its ops (empty for a record written before fingerprints existed).
     */
    public record RequestId(String requestId, LogPosition position, long timestampMs, ByteString fingerprint) {}

    /**
     * The original results of the write logged at {@code position} with a request id, to answer
     * a retry of it: from its request-id record, else (a record pruned by age a little before the
     * window forgot the id) from the log entry. Empty when neither has them: the write was logged
     * before entries carried results, or the entry at that lsn is another epoch's. Driver thread.
     */
    public Optional<List<OpResult>> originalResults(LogPosition position) {
        dbLock.readLock().lock();
        try {
            byte[] raw = db.get(requestsCf, MetaCodec.lsnKey(position.lsn()));
            if (raw != null) {
                RequestId record = MetaCodec.requestId(MetaCodec.lsnKey(position.lsn()), raw);
                return record.position().equals(position) ? MetaCodec.requestResults(raw) : Optional.empty();
            }
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot read the request-id record at " + position, e);
        } finally {
            dbLock.readLock().unlock();
        }
        return readEntry(position.lsn())
                .filter(e -> e.getEpoch() == position.epoch() && e.getResultsCount() > 0)
                .map(LogEntry::getResultsList);
    }

    /**
     * Every request-id record held, in lsn order: at least the window set by
     * {@link #retainRequestIds} (and up to {@link #REQUEST_ID_PRUNE_STEP} records more, besides
     * ones whose age nothing has checked since), whatever part of the log is left. Entries older
     * than the first record either fell out of the window or were written before this store kept
     * records; only the log can tell about the latter.
     */
    public List<RequestId> requestIds() {
        List<RequestId> out = new ArrayList<>(heldIds.size());
        dbLock.readLock().lock();
        try (RocksIterator it = db.newIterator(requestsCf)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                out.add(MetaCodec.requestId(it.key(), it.value()));
            }
        } finally {
            dbLock.readLock().unlock();
        }
        return out;
    }

    /**
     * Bounds of the idempotency window: request-id records beyond the newest {@code maxEntries},
     * or older than {@code maxAgeMs} before the newest entry's timestamp, are deleted as later
     * batches add ids (every {@link #REQUEST_ID_PRUNE_STEP} of them). The age is measured against
     * the log's own timestamps, not this replica's clock, so a follower keeps what its leader's
     * window holds. Driver thread, before writing.
     */
    public void retainRequestIds(int maxEntries, long maxAgeMs) {
        requestIdMaxEntries = maxEntries;
        requestIdMaxAgeMs = maxAgeMs;
    }

    // ---- writes (driver thread only) ---------------------------------------------------------

    /**
     * A group of appends (and meta changes) written with one fsync. Tracks the state each key
     * will have once the batch is written, so that entries later in the batch see earlier ones
     * (for the leader's condition checks and for undo records).
     */
    public final class Batch implements AutoCloseable {
        private final WriteBatch wb = new WriteBatch();
        private final Map<String, Optional<StoredValue>> overlay = new HashMap<>();
        private final List<LogEntry> entries = new ArrayList<>();
        private final List<HeldId> newIds = new ArrayList<>();
        private long newestTimestampMs = Long.MIN_VALUE;
        private DurableMeta newMeta;
        private Map<String, String> newAddresses;
        private LogPosition lastAppended;
        /** The batch committed just before this one, while it may still be being written; else null. */
        private Batch after;

        private Batch(Batch after) {
            this.after = after;
        }

        /** The state of {@code key} as it will be once this batch is committed. */
        public Optional<StoredValue> current(String key) {
            Optional<StoredValue> o = overlay.get(key);
            if (o == null) {
                o = recentStates.get(key);
            }
            if (o == null) {
                o = after != null ? after.current(key) : get(key);
                recentStates.put(key, o);
            }
            return o;
        }

        /**
         * The batch this one was staged behind is committed: read through to the store from now
         * on (and let it be collected; otherwise every batch would hold on to all earlier ones).
         */
        public void predecessorCommitted() {
            after = null;
        }

        /** Appends {@code entry} (the next lsn) and applies its mutations. */
        public void append(LogEntry entry) {
            long expected = (lastAppended != null ? lastAppended
                    : after != null && after.lastAppended != null ? after.lastAppended : applied).lsn() + 1;
            if (entry.getLsn() != expected) {
                throw new IllegalStateException("append of lsn " + entry.getLsn() + " but the log ends at " + (expected - 1));
            }
            LogPosition pos = new LogPosition(entry.getEpoch(), entry.getLsn());
            Map<String, StoredValue> before = new LinkedHashMap<>();
            try {
                for (Mutation m : entry.getMutationsList()) {
                    String key = m.hasPut() ? m.getPut().getKey() : m.getDeleteKey();
                    if (!before.containsKey(key)) {
                        before.put(key, current(key).orElse(null));
                    }
                    byte[] k = key.getBytes(StandardCharsets.UTF_8);
                    if (m.hasPut()) {
                        StoredValue v = new StoredValue(m.getPut().getValue().toByteArray(), m.getPut().getContentType(), pos);
                        wb.put(dataCf, k, v.encode());
                        overlay.put(key, Optional.of(v));
                        recentStates.put(key, Optional.of(v));
                    } else {
                        wb.delete(dataCf, k);
                        overlay.put(key, Optional.empty());
                        recentStates.put(key, Optional.empty());
                    }
                }
                wb.put(logCf, MetaCodec.lsnKey(entry.getLsn()), entry.toByteArray());
                wb.put(undoCf, MetaCodec.lsnKey(entry.getLsn()), MetaCodec.undo(before));
                if (!entry.getRequestId().isEmpty()) {
                    wb.put(requestsCf, MetaCodec.lsnKey(entry.getLsn()), MetaCodec.requestRecord(entry));
                }
            } catch (RocksDBException e) {
                throw new IllegalStateException("cannot stage entry " + pos, e);
            }
            entries.add(entry);
            if (!entry.getRequestId().isEmpty()) {
                newIds.add(new HeldId(entry.getLsn(), entry.getTimestampMs()));
            }
            newestTimestampMs = Math.max(newestTimestampMs, entry.getTimestampMs());
            lastAppended = pos;
        }

        public void setMeta(DurableMeta m) {
            newMeta = m;
        }

        public void setAddresses(Map<String, String> a) {
            newAddresses = Map.copyOf(a);
        }

        public List<LogEntry> entries() {
            return entries;
        }

        public boolean isEmpty() {
            return entries.isEmpty() && newMeta == null && newAddresses == null;
        }

        /** Last position appended in this batch, or null. */
        public LogPosition lastAppended() {
            return lastAppended;
        }

        @Override
        public void close() {
            wb.close();
        }
    }

    public Batch newBatch() {
        return new Batch(null);
    }

    /**
     * A batch staged behind {@code inFlight} (null: none), which is being committed on another
     * thread: its reads and lsn checks see {@code inFlight}'s changes before they reach the store.
     * Commit it after {@code inFlight}, and call {@link Batch#predecessorCommitted} before that.
     */
    public Batch newBatchAfter(Batch inFlight) {
        return new Batch(inFlight);
    }

    /** Writes the batch with one fsync; returns the nanoseconds the synced write took. */
    public long commit(Batch b) {
        if (b.isEmpty()) {
            b.close();
            return 0;
        }
        try (b) {
            if (b.lastAppended != null) {
                b.wb.put(metaCf, META_APPLIED, MetaCodec.position(b.lastAppended));
            }
            if (b.newMeta != null) {
                b.wb.put(metaCf, META_DURABLE, MetaCodec.meta(b.newMeta));
            }
            if (b.newAddresses != null) {
                b.wb.put(metaCf, META_ADDRESSES, MetaCodec.addresses(b.newAddresses));
            }
            int pruned = 0;
            boolean pruneCheck = !b.newIds.isEmpty() && idsSincePruneCheck + b.newIds.size() >= REQUEST_ID_PRUNE_STEP;
            if (pruneCheck) {
                Outside out = requestIdsOutsideWindow(b);
                if (out.count() > 0) {
                    // In the same batch as the appends: pruning costs no fsync of its own.
                    b.wb.deleteRange(requestsCf, MetaCodec.lsnKey(0), MetaCodec.lsnKey(out.lastLsn() + 1));
                    pruned = out.count();
                }
            }
            long t0 = System.nanoTime();
            db.write(syncWrite, b.wb);
            long took = System.nanoTime() - t0;
            if (b.newMeta != null) {
                meta = b.newMeta;
            }
            if (b.newAddresses != null) {
                addresses = b.newAddresses;
            }
            if (b.lastAppended != null) {
                applied = b.lastAppended;
            }
            heldIds.addAll(b.newIds);
            for (int i = 0; i < pruned; i++) {
                heldIds.pollFirst();
            }
            idsSincePruneCheck = pruneCheck ? 0 : idsSincePruneCheck + b.newIds.size();
            return took;
        } catch (RocksDBException e) {
            // A failed synced write leaves us unsure what is durable: stop rather than guess.
            throw new IllegalStateException("synced write failed: " + e.getMessage(), e);
        }
    }

    /** The oldest request-id records outside the window once a batch is committed. */
    private record Outside(int count, long lastLsn) {}

    /**
     * The oldest request-id records (held ones, then the batch's) that fall outside the window
     * once {@code b} is committed: by count, or by age against the batch's newest entry. Oldest
     * first and stopping at the first one kept, as {@code IdempotencyWindow} forgets them, so the
     * records left are a suffix of the log's ids and cover what the window holds.
     */
    private Outside requestIdsOutsideWindow(Batch b) {
        int total = heldIds.size() + b.newIds.size();
        int n = 0;
        long lastLsn = 0;
        Iterator<HeldId> it = Stream.concat(heldIds.stream(), b.newIds.stream()).iterator();
        while (it.hasNext()) {
            HeldId h = it.next();
            if (total - n <= requestIdMaxEntries && b.newestTimestampMs - h.timestampMs() <= requestIdMaxAgeMs) {
                break;
            }
            n++;
            lastLsn = h.lsn();
        }
        return new Outside(n, lastLsn);
    }

    /** Persists meta (and addresses when non-null) alone, with fsync. */
    public void persistMeta(DurableMeta m, Map<String, String> addrs) {
        Batch b = newBatch();
        b.setMeta(m);
        if (addrs != null) {
            b.setAddresses(addrs);
        }
        commit(b);
    }

    public record Truncation(List<LogEntry> removed, Path rollbackFile, LogPosition applied) {}

    /**
     * Drops every entry after {@code toLsn}. Each removed entry is first written to a rollback
     * file that is fsynced; then, in one synced batch, the keys they wrote get back the state
     * recorded in their undo records (newest entry first, so the oldest undo wins), the entries
     * and their request ids leave the log, the applied position moves back to {@code toLsn} and
     * {@code newMeta} is saved.
     */
    public Truncation truncateAfter(long toLsn, DurableMeta newMeta, long nowMs) {
        if (toLsn < logStartLsn - 1 && applied.lsn() > toLsn) {
            throw new IllegalStateException("cannot truncate to " + toLsn + ": the log starts at " + logStartLsn);
        }
        // Keys go back to older states below: staging must read them from the store again.
        recentStates.clear();
        List<LogEntry> removed = readEntries(toLsn + 1, Long.MAX_VALUE, Long.MAX_VALUE);
        Path file = null;
        if (!removed.isEmpty()) {
            file = rollback.write(newMeta.epoch(), nowMs, removed);
        }
        LogPosition newApplied;
        if (toLsn == 0) {
            newApplied = LogPosition.ZERO;
        } else {
            newApplied = readEntry(toLsn).map(e -> new LogPosition(e.getEpoch(), e.getLsn()))
                    .orElseGet(() -> toLsn == applied.lsn() ? applied : newMeta.history().positionOf(toLsn));
        }
        try (WriteBatch wb = new WriteBatch()) {
            List<LogEntry> newestFirst = new ArrayList<>(removed);
            newestFirst.sort(Comparator.comparingLong(LogEntry::getLsn).reversed());
            for (LogEntry e : newestFirst) {
                byte[] lsnKey = MetaCodec.lsnKey(e.getLsn());
                byte[] undoRaw = db.get(undoCf, lsnKey);
                if (undoRaw == null) {
                    throw new IllegalStateException("no undo record for lsn " + e.getLsn());
                }
                for (Map.Entry<String, StoredValue> u : MetaCodec.undo(undoRaw).entrySet()) {
                    byte[] k = u.getKey().getBytes(StandardCharsets.UTF_8);
                    if (u.getValue() == null) {
                        wb.delete(dataCf, k);
                    } else {
                        wb.put(dataCf, k, u.getValue().encode());
                    }
                }
                wb.delete(logCf, lsnKey);
                wb.delete(undoCf, lsnKey);
            }
            if (!heldIds.isEmpty() && heldIds.peekLast().lsn() > toLsn) {
                // A rolled-back write is no longer in this history: a retry of its id must be
                // applied again, not answered with a position the new epoch reuses.
                wb.deleteRange(requestsCf, MetaCodec.lsnKey(toLsn + 1), MetaCodec.lsnKey(Long.MAX_VALUE));
            }
            wb.put(metaCf, META_APPLIED, MetaCodec.position(newApplied));
            wb.put(metaCf, META_DURABLE, MetaCodec.meta(newMeta));
            db.write(syncWrite, wb);
        } catch (RocksDBException e) {
            throw new IllegalStateException("truncation write failed: " + e.getMessage(), e);
        }
        while (!heldIds.isEmpty() && heldIds.peekLast().lsn() > toLsn) {
            heldIds.pollLast();
        }
        meta = newMeta;
        applied = newApplied;
        return new Truncation(removed, file, newApplied);
    }

    /**
     * Deletes log and undo records below {@code lsn} (they are behind every wanted follower).
     * Request-id records stay: the window, not follower progress, decides when they go.
     */
    public void compactBefore(long lsn) {
        if (lsn <= logStartLsn) {
            return;
        }
        try (WriteBatch wb = new WriteBatch()) {
            wb.deleteRange(logCf, MetaCodec.lsnKey(0), MetaCodec.lsnKey(lsn));
            wb.deleteRange(undoCf, MetaCodec.lsnKey(0), MetaCodec.lsnKey(lsn));
            wb.put(metaCf, META_LOG_START, MetaCodec.longValue(lsn));
            db.write(syncWrite, wb);
            logStartLsn = lsn;
        } catch (RocksDBException e) {
            throw new IllegalStateException("log compaction failed: " + e.getMessage(), e);
        }
    }

    /**
     * A RocksDB checkpoint (hard links, consistent across column families) in {@code target},
     * which must not exist. Called on the driver thread, so {@link #applied()} is what it holds.
     * It includes the request-id records, so the installing replica gets the window with the data.
     */
    public LogPosition checkpoint(Path target) {
        try (Checkpoint cp = Checkpoint.create(db)) {
            Files.createDirectories(target.getParent());
            LogPosition at = applied;
            cp.createCheckpoint(target.toString());
            return at;
        } catch (RocksDBException | IOException e) {
            throw new IllegalStateException("checkpoint into " + target + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Replaces this store with the checkpoint in {@code incoming} (taken at {@code at}): its log
     * and undo records are dropped (the log starts after {@code at}), {@code newMeta} and
     * {@code addrs} are written into it, then the directories are swapped. A crash mid-swap is
     * finished by {@link #open}. The leader's request-id records are kept (they cover entries up
     * to {@code at}, like the data), so {@link #requestIds()} still answers for writes the log no
     * longer has; a checkpoint without them (from an older leader) installs with none.
     */
    public void installSnapshot(Path incoming, LogPosition at, DurableMeta newMeta, Map<String, String> addrs) {
        // Every key may take another state: staging must read them from the new store.
        recentStates.clear();
        ReplicaStore in = new ReplicaStore(incoming.getParent());
        // Open the checkpoint directly as a database to rewrite its meta before it goes live.
        in.openAt(incoming);
        try {
            try (WriteBatch wb = new WriteBatch()) {
                wb.deleteRange(in.logCf, MetaCodec.lsnKey(0), MetaCodec.lsnKey(Long.MAX_VALUE));
                wb.deleteRange(in.undoCf, MetaCodec.lsnKey(0), MetaCodec.lsnKey(Long.MAX_VALUE));
                wb.put(in.metaCf, META_APPLIED, MetaCodec.position(at));
                wb.put(in.metaCf, META_LOG_START, MetaCodec.longValue(at.lsn() + 1));
                wb.put(in.metaCf, META_DURABLE, MetaCodec.meta(newMeta));
                wb.put(in.metaCf, META_ADDRESSES, MetaCodec.addresses(addrs));
                in.db.write(syncWrite, wb);
            }
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot prepare snapshot: " + e.getMessage(), e);
        } finally {
            in.close();
        }
        dbLock.writeLock().lock();
        try {
            swapIn(incoming);
        } finally {
            dbLock.writeLock().unlock();
        }
    }

    private void swapIn(Path incoming) {
        closeDb();
        try {
            Path old = dataDir.resolve("db.old");
            if (Files.exists(old)) {
                deleteTree(old);
            }
            Files.move(dbDir, old);
            Files.move(incoming, dbDir);
            RollbackFiles.fsyncDir(dataDir);
            deleteTree(old);
        } catch (IOException e) {
            throw new UncheckedIOException("snapshot swap failed", e);
        }
        openDb();
    }

    private void openAt(Path dir) {
        try {
            dbOptions = new DBOptions().setCreateIfMissing(false).setCreateMissingColumnFamilies(true);
            List<ColumnFamilyDescriptor> descriptors = columnFamilies();
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            dataCf = handles.get(1);
            logCf = handles.get(2);
            undoCf = handles.get(3);
            metaCf = handles.get(4);
            requestsCf = handles.get(5);
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot open checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Files of a checkpoint directory, for shipping. */
    public static List<Path> filesOf(Path checkpoint) {
        try (Stream<Path> s = Files.list(checkpoint)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void closeDb() {
        if (db == null) {
            return;
        }
        for (ColumnFamilyHandle h : new ColumnFamilyHandle[] {dataCf, logCf, undoCf, metaCf, requestsCf}) {
            h.close();
        }
        db.close();
        db = null;
        dbOptions.close();
        cfOptions.close();
        dataCfOptions.close();
    }

    @Override
    public void close() {
        dbLock.writeLock().lock();
        try {
            closeDb();
        } finally {
            dbLock.writeLock().unlock();
        }
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static boolean startsWith(byte[] a, byte[] prefix) {
        if (a.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (a[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}
