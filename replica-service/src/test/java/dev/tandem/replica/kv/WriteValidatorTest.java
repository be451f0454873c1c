package dev.tandem.replica.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.Check;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.proto.Position;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteRequest;
import org.junit.jupiter.api.Test;

class WriteValidatorTest {

    private final WriteValidator v = new WriteValidator(8, 16, 3, 40);

    private static Op put(String k, int valueBytes) {
        return Op.newBuilder().setPut(Put.newBuilder().setKey(k).setValue(ByteString.copyFrom(new byte[valueBytes]))).build();
    }

    private ErrorCode code(WriteRequest.Builder r) {
        return v.validate(r.build()).map(KvError::code).orElse(ErrorCode.OK);
    }

    @Test
    void acceptsARequestWithinEveryLimit() {
        assertTrue(v.validate(WriteRequest.newBuilder().addOps(put("12345678", 16)).build()).isEmpty());
    }

    @Test
    void keyLimitCountsUtf8BytesNotCharacters() {
        assertEquals(ErrorCode.KEY_TOO_LARGE, code(WriteRequest.newBuilder().addOps(put("ééééé", 1))));
        assertEquals(ErrorCode.OK, code(WriteRequest.newBuilder().addOps(put("éééé", 1))));
    }

    @Test
    void eachLimitHasItsOwnCodeAndNamesTheOp() {
        KvError e = v.validate(WriteRequest.newBuilder().addOps(put("a", 1)).addOps(put("b", 17)).build()).orElseThrow();
        assertEquals(ErrorCode.VALUE_TOO_LARGE, e.code());
        assertEquals(1, e.opIndex());
        assertEquals(ErrorCode.BATCH_TOO_LARGE, code(WriteRequest.newBuilder().addOps(put("a", 1)).addOps(put("b", 1))
                .addOps(put("c", 1)).addOps(put("d", 1))));
        assertEquals(ErrorCode.BATCH_TOO_LARGE, code(WriteRequest.newBuilder().addOps(put("a", 16)).addOps(put("b", 16)).addOps(put("c", 16))));
    }

    @Test
    void malformedRequestsAreInvalidArgument() {
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().addOps(put("", 1))));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().addOps(Op.getDefaultInstance())));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().addOps(put("a", 1)).addOps(put("a", 1))));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().addOps(Op.newBuilder().setCheck(Check.newBuilder().setKey("a")))));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().setWriteConcernValue(9).addOps(put("a", 1))));
        assertEquals(ErrorCode.INVALID_ARGUMENT, code(WriteRequest.newBuilder().addOps(Op.newBuilder().setDelete(Delete.newBuilder()
                .setKey("a").setCondition(Condition.newBuilder().setExpectedVersion(Position.newBuilder().setEpoch(1)))))));
    }
}
