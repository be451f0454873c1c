package dev.tandem.replica.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.google.protobuf.ByteString;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import org.junit.jupiter.api.Test;

class RequestFingerprintTest {

    private static Op put(String key, String value) {
        return Op.newBuilder().setPut(Put.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value))
                .setContentType("application/json")).build();
    }

    private static Op delete(String key) {
        return Op.newBuilder().setDelete(Delete.newBuilder().setKey(key)).build();
    }

    private static WriteRequest write(Op... ops) {
        return WriteRequest.newBuilder().setRequestId("client-order-17-create").setWriteConcern(WriteConcern.WRITE_CONCERN_ONE)
                .addAllOps(java.util.List.of(ops)).build();
    }

    @Test
    void isSha256Sized() {
        assertEquals(32, RequestFingerprint.of(write(put("order/17", "{\"total\": 42}"))).size());
    }

    @Test
    void aRetryWithAnotherConcernOrTimeoutIsTheSameWrite() {
        WriteRequest first = write(put("order/17", "{\"total\": 42}"));
        WriteRequest retry = first.toBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_MAJORITY).setConfirmTimeoutMs(250)
                .setRequestId("another-id").build();
        assertEquals(RequestFingerprint.of(first), RequestFingerprint.of(retry));
        // ... also when the retry's bytes are parsed anew (another process, another serializer run).
        assertEquals(RequestFingerprint.of(first), RequestFingerprint.of(parse(first.toByteArray())));
    }

    @Test
    void anyDifferenceInWhatIsWrittenChangesIt() {
        ByteString base = RequestFingerprint.of(write(put("order/17", "{\"total\": 42}")));
        assertNotEquals(base, RequestFingerprint.of(write(put("order/18", "{\"total\": 42}"))), "other key");
        assertNotEquals(base, RequestFingerprint.of(write(put("order/17", "{\"total\": 43}"))), "other value");
        assertNotEquals(base, RequestFingerprint.of(write(delete("order/17"))), "other op");
        Op guarded = Op.newBuilder().setPut(put("order/17", "{\"total\": 42}").getPut().toBuilder()
                .setCondition(Condition.newBuilder().setMustNotExist(true))).build();
        assertNotEquals(base, RequestFingerprint.of(write(guarded)), "a condition");
        Op otherType = Op.newBuilder().setPut(put("order/17", "{\"total\": 42}").getPut().toBuilder().setContentType("text/plain")).build();
        assertNotEquals(base, RequestFingerprint.of(write(otherType)), "another content type");
        assertNotEquals(RequestFingerprint.of(write(put("a", "1"), put("b", "2"))),
                RequestFingerprint.of(write(put("b", "2"), put("a", "1"))), "op order");
    }

    private static WriteRequest parse(byte[] bytes) {
        try {
            return WriteRequest.parseFrom(bytes);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
