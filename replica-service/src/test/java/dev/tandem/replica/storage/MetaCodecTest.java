package dev.tandem.replica.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.OpResult;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Request-id records: the current format round-trips, and records of the first format still decode. */
class MetaCodecTest {

    private static final ByteString FINGERPRINT = ByteString.copyFrom(new byte[] {
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32});

    @Test
    void aRequestRecordKeepsTheFingerprintAndTheOriginalResults() {
        List<OpResult> results = List.of(OpResult.newBuilder().setExisted(false).build(),
                OpResult.newBuilder().setExisted(true).setPreviousVersion(new LogPosition(1, 7).toProto()).build());
        LogEntry e = LogEntry.newBuilder().setEpoch(3).setLsn(42).setTimestampMs(1_700_000_000_123L)
                .setRequestId("client-ördér-17").setRequestFingerprint(FINGERPRINT).addAllResults(results).build();
        byte[] raw = MetaCodec.requestRecord(e);

        assertEquals(new ReplicaStore.RequestId("client-ördér-17", new LogPosition(3, 42), 1_700_000_000_123L, FINGERPRINT),
                MetaCodec.requestId(MetaCodec.lsnKey(42), raw));
        assertEquals(results, MetaCodec.requestResults(raw).orElseThrow());
        assertEquals(1_700_000_000_123L, MetaCodec.requestIdTimestamp(raw));
    }

    @Test
    void aRecordOfTheFirstFormatDecodesWithoutFingerprintOrResults() {
        // As stores wrote them before fingerprints: epoch, timestamp, then the id to the end.
        byte[] id = "req-from-before".getBytes(StandardCharsets.UTF_8);
        byte[] raw = ByteBuffer.allocate(16 + id.length).putLong(2).putLong(1_700_000_000_999L).put(id).array();

        assertEquals(new ReplicaStore.RequestId("req-from-before", new LogPosition(2, 9), 1_700_000_000_999L, ByteString.EMPTY),
                MetaCodec.requestId(MetaCodec.lsnKey(9), raw));
        assertTrue(MetaCodec.requestResults(raw).isEmpty());
        assertEquals(1_700_000_000_999L, MetaCodec.requestIdTimestamp(raw));
    }

    @Test
    void anEntryWithoutFingerprintOrResultsMakesARecordWithEmptyOnes() {
        LogEntry e = LogEntry.newBuilder().setEpoch(1).setLsn(1).setTimestampMs(5).setRequestId("r").build();
        byte[] raw = MetaCodec.requestRecord(e);
        assertEquals(ByteString.EMPTY, MetaCodec.requestId(MetaCodec.lsnKey(1), raw).fingerprint());
        assertEquals(List.of(), MetaCodec.requestResults(raw).orElseThrow());
    }
}
