package dev.tandem.replica.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.Check;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.WriteRequest;
import dev.tandem.replica.storage.StoredValue;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConditionResolverTest {

    private final Map<String, StoredValue> state = new HashMap<>(Map.of(
            "a", new StoredValue("1".getBytes(), "", new LogPosition(2, 10))));

    private ConditionResolver.Resolution resolve(Op... ops) {
        WriteRequest.Builder r = WriteRequest.newBuilder();
        for (Op op : ops) {
            r.addOps(op);
        }
        return ConditionResolver.resolve(r.build(), k -> Optional.ofNullable(state.get(k)));
    }

    private static Op put(String k, Condition c) {
        return Op.newBuilder().setPut(Put.newBuilder().setKey(k).setValue(ByteString.copyFromUtf8("v")).setCondition(c)).build();
    }

    @Test
    void casWithTheCurrentVersionResolvesToAPlainPutWithoutTheCondition() {
        var r = assertInstanceOf(ConditionResolver.Resolved.class,
                resolve(put("a", Condition.newBuilder().setExpectedVersion(new LogPosition(2, 10).toProto()).build())));
        assertEquals(1, r.mutations().size());
        assertTrue(r.mutations().get(0).hasPut());
        assertTrue(r.results().get(0).getExisted());
        assertEquals(new LogPosition(2, 10), LogPosition.of(r.results().get(0).getPreviousVersion()));
    }

    @Test
    void staleVersionFailsTheWholeBatchNamingTheOp() {
        var f = assertInstanceOf(ConditionResolver.Failed.class, resolve(
                put("b", Condition.getDefaultInstance()),
                put("a", Condition.newBuilder().setExpectedVersion(new LogPosition(1, 10).toProto()).build())));
        assertEquals(ErrorCode.CONDITION_FAILED, f.error().code());
        assertEquals(1, f.error().opIndex());
    }

    @Test
    void mustExistAndMustNotExistAreCheckedAgainstTheState() {
        assertInstanceOf(ConditionResolver.Failed.class, resolve(put("a", Condition.newBuilder().setMustNotExist(true).build())));
        assertInstanceOf(ConditionResolver.Resolved.class, resolve(put("b", Condition.newBuilder().setMustNotExist(true).build())));
        assertInstanceOf(ConditionResolver.Failed.class, resolve(Op.newBuilder().setDelete(Delete.newBuilder().setKey("b")
                .setCondition(Condition.newBuilder().setMustExist(true))).build()));
    }

    @Test
    void checksGuardButWriteNothing() {
        var r = assertInstanceOf(ConditionResolver.Resolved.class, resolve(
                Op.newBuilder().setCheck(Check.newBuilder().setKey("a").setCondition(Condition.newBuilder().setMustExist(true))).build(),
                put("c", Condition.getDefaultInstance())));
        assertEquals(1, r.mutations().size());
        assertEquals(2, r.results().size());
        assertFalse(r.results().get(1).getExisted());
    }

    @Test
    void overlayOfAssignedWritesIsSeenByTheNextWrite() {
        // The driver passes the batch's view: a key written by an earlier, not yet applied write exists.
        state.put("new", new StoredValue("x".getBytes(), "", new LogPosition(3, 11)));
        assertInstanceOf(ConditionResolver.Failed.class, resolve(put("new", Condition.newBuilder().setMustNotExist(true).build())));
    }
}
