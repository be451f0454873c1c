package dev.tandem.replica.storage;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.OpResult;
import dev.tandem.replica.core.DurableMeta;
import dev.tandem.replica.core.Role;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Binary encodings of what the meta column family holds. Versioned by a leading byte. */
final class MetaCodec {

    private static final int VERSION = 1;

    private MetaCodec() {}

    static byte[] lsnKey(long lsn) {
        return ByteBuffer.allocate(8).putLong(lsn).array();
    }

    static long lsnOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong();
    }

    static byte[] position(LogPosition p) {
        return ByteBuffer.allocate(16).putLong(p.epoch()).putLong(p.lsn()).array();
    }

    static LogPosition position(byte[] raw) {
        ByteBuffer b = ByteBuffer.wrap(raw);
        return new LogPosition(b.getLong(), b.getLong());
    }

    static byte[] longValue(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    static long longValue(byte[] raw) {
        return ByteBuffer.wrap(raw).getLong();
    }

    static byte[] meta(DurableMeta m) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeByte(VERSION);
            out.writeLong(m.epoch());
            out.writeUTF(m.role().name());
            out.writeUTF(m.leaderId());
            out.writeInt(m.members().size());
            for (String member : m.members()) {
                out.writeUTF(member);
            }
            List<EpochHistory.Entry> h = m.history().entries();
            out.writeInt(h.size());
            for (EpochHistory.Entry e : h) {
                out.writeLong(e.epoch());
                out.writeLong(e.startLsn());
                out.writeUTF(e.leaderId() == null ? "" : e.leaderId());
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static DurableMeta meta(byte[] raw) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(raw));
            int version = in.readByte();
            if (version != VERSION) {
                throw new IllegalStateException("unknown meta format version " + version);
            }
            long epoch = in.readLong();
            Role role = Role.valueOf(in.readUTF());
            String leader = in.readUTF();
            int n = in.readInt();
            List<String> members = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                members.add(in.readUTF());
            }
            int hn = in.readInt();
            List<EpochHistory.Entry> history = new ArrayList<>(hn);
            for (int i = 0; i < hn; i++) {
                history.add(new EpochHistory.Entry(in.readLong(), in.readLong(), in.readUTF()));
            }
            return new DurableMeta(epoch, EpochHistory.of(history), role, leader, members);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt meta", e);
        }
    }

    static byte[] addresses(Map<String, String> addresses) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(addresses.size());
            for (Map.Entry<String, String> e : addresses.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeUTF(e.getValue());
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, String> addresses(byte[] raw) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(raw));
            int n = in.readInt();
            Map<String, String> out = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                out.put(in.readUTF(), in.readUTF());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt addresses", e);
        }
    }

    /**
     * First byte of a request-id record in the current format. Records of the first format start
     * with the entry's epoch, big-endian, whose top bit is always 0 (epochs are non-negative
     * longs), so a first byte with the top bit set tells the formats apart.
     */
    static final byte REQUEST_RECORD_V2 = (byte) 0x82;

    /**
     * A request-id record (the key is the entry's lsn), current format: {@link #REQUEST_RECORD_V2},
     * the entry's epoch (8 B), leader timestamp (8 B), the request id (4-byte length, UTF-8), the
     * request's fingerprint (4-byte length, bytes) and the write's original results (4-byte count,
     * then each {@code OpResult} as 4-byte length and protobuf bytes, so fields OpResult gains later
     * are kept). The results come last: rebuilding the window reads every record but needs only
     * what comes before them. Raw bytes rather than writeUTF: followers store what the leader
     * logged without re-validating its length.
     *
     * <p>The first format (written before fingerprints existed, still read): epoch (8 B),
     * timestamp (8 B), then the request id as UTF-8 to the end; no fingerprint, no results.
     */
    static byte[] requestRecord(LogEntry entry) {
        byte[] id = entry.getRequestId().getBytes(StandardCharsets.UTF_8);
        byte[] fingerprint = entry.getRequestFingerprint().toByteArray();
        List<byte[]> results = new ArrayList<>(entry.getResultsCount());
        int size = 1 + 8 + 8 + 4 + id.length + 4 + fingerprint.length + 4;
        for (OpResult r : entry.getResultsList()) {
            byte[] enc = r.toByteArray();
            results.add(enc);
            size += 4 + enc.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).put(REQUEST_RECORD_V2).putLong(entry.getEpoch()).putLong(entry.getTimestampMs())
                .putInt(id.length).put(id).putInt(fingerprint.length).put(fingerprint).putInt(results.size());
        for (byte[] enc : results) {
            b.putInt(enc.length).put(enc);
        }
        return b.array();
    }

    private static boolean isV2(byte[] raw) {
        return raw.length > 0 && raw[0] == REQUEST_RECORD_V2;
    }

    /** The record's request id, position, timestamp and fingerprint (empty in a first-format record). */
    static ReplicaStore.RequestId requestId(byte[] lsnKey, byte[] raw) {
        ByteBuffer b = ByteBuffer.wrap(raw);
        if (!isV2(raw)) {
            long epoch = b.getLong();
            long timestampMs = b.getLong();
            String id = new String(raw, 16, raw.length - 16, StandardCharsets.UTF_8);
            return new ReplicaStore.RequestId(id, new LogPosition(epoch, lsnOf(lsnKey)), timestampMs, ByteString.EMPTY);
        }
        b.get();
        long epoch = b.getLong();
        long timestampMs = b.getLong();
        String id = new String(bytes(b), StandardCharsets.UTF_8);
        ByteString fingerprint = ByteString.copyFrom(bytes(b));
        return new ReplicaStore.RequestId(id, new LogPosition(epoch, lsnOf(lsnKey)), timestampMs, fingerprint);
    }

    /** The write's original results, or empty for a first-format record, which has none. */
    static Optional<List<OpResult>> requestResults(byte[] raw) {
        if (!isV2(raw)) {
            return Optional.empty();
        }
        ByteBuffer b = ByteBuffer.wrap(raw, 17, raw.length - 17);
        skip(b);   // request id
        skip(b);   // fingerprint
        int n = b.getInt();
        List<OpResult> results = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                results.add(OpResult.parseFrom(bytes(b)));
            }
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt request-id record", e);
        }
        return Optional.of(results);
    }

    /** The leader timestamp of a request-id record (either format), without decoding the rest. */
    static long requestIdTimestamp(byte[] raw) {
        return ByteBuffer.wrap(raw, isV2(raw) ? 9 : 8, 8).getLong();
    }

    /** Skips a length-prefixed field. */
    private static void skip(ByteBuffer b) {
        int length = b.getInt();
        b.position(b.position() + length);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.getInt()];
        b.get(out);
        return out;
    }

    /**
     * Undo information of one log entry: for every key it wrote, the state before (absent, or
     * the previous stored value). Truncation restores these, newest entry first, so that the
     * state after a rollback is exactly the state at the truncation point even when the keys'
     * older writes were compacted out of the log.
     */
    static byte[] undo(Map<String, StoredValue> before) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(before.size());
            for (Map.Entry<String, StoredValue> e : before.entrySet()) {
                out.writeUTF(e.getKey());
                StoredValue v = e.getValue();
                if (v == null) {
                    out.writeInt(-1);
                } else {
                    byte[] enc = v.encode();
                    out.writeInt(enc.length);
                    out.write(enc);
                }
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, StoredValue> undo(byte[] raw) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(raw));
            int n = in.readInt();
            Map<String, StoredValue> out = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String key = in.readUTF();
                int len = in.readInt();
                if (len < 0) {
                    out.put(key, null);
                } else {
                    out.put(key, StoredValue.decode(in.readNBytes(len)));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt undo record", e);
        }
    }
}
