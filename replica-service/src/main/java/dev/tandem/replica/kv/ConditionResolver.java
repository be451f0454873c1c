package dev.tandem.replica.kv;

import com.google.protobuf.ByteString;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.Condition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Mutation;
import dev.tandem.proto.Op;
import dev.tandem.proto.OpResult;
import dev.tandem.proto.PutValue;
import dev.tandem.proto.WriteRequest;
import dev.tandem.replica.storage.StoredValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The leader's decision of a write: conditions are checked against the current state (the store
 * plus every write already assigned a position but not yet applied: {@code state} must include
 * that overlay), and the write becomes a list of resolved mutations. The log carries only these
 * results, so followers replay bytes, never conditions. A condition that does not hold fails the
 * whole write with CONDITION_FAILED and the index of the op; nothing is logged.
 */
public final class ConditionResolver {

    private ConditionResolver() {}

    public sealed interface Resolution {}

    public record Resolved(List<Mutation> mutations, List<OpResult> results) implements Resolution {}

    public record Failed(KvError error) implements Resolution {}

    public static Resolution resolve(WriteRequest req, Function<String, Optional<StoredValue>> state) {
        List<Mutation> mutations = new ArrayList<>(req.getOpsCount());
        List<OpResult> results = new ArrayList<>(req.getOpsCount());
        for (int i = 0; i < req.getOpsCount(); i++) {
            Op op = req.getOps(i);
            String key = switch (op.getKindCase()) {
                case PUT -> op.getPut().getKey();
                case DELETE -> op.getDelete().getKey();
                case CHECK -> op.getCheck().getKey();
                default -> throw new IllegalArgumentException("unvalidated op " + i);
            };
            Condition cond = switch (op.getKindCase()) {
                case PUT -> op.getPut().getCondition();
                case DELETE -> op.getDelete().getCondition();
                default -> op.getCheck().getCondition();
            };
            Optional<StoredValue> current = state.apply(key);
            Optional<String> failure = check(cond, current);
            if (failure.isPresent()) {
                return new Failed(new KvError(ErrorCode.CONDITION_FAILED, "op " + i + " on '" + key + "': " + failure.get(), i));
            }
            OpResult.Builder r = OpResult.newBuilder().setExisted(current.isPresent());
            current.ifPresent(v -> r.setPreviousVersion(v.version().toProto()));
            results.add(r.build());
            switch (op.getKindCase()) {
                case PUT -> mutations.add(Mutation.newBuilder().setPut(PutValue.newBuilder().setKey(key)
                        .setValue(op.getPut().getValue()).setContentType(op.getPut().getContentType())).build());
                case DELETE -> {
                    // Deleting an absent key changes nothing, but is still logged: the entry (and
                    // its version) is the client's proof of the write, and replay is idempotent.
                    mutations.add(Mutation.newBuilder().setDeleteKey(key).build());
                }
                default -> { /* a check writes nothing */ }
            }
        }
        return new Resolved(mutations, results);
    }

    private static Optional<String> check(Condition cond, Optional<StoredValue> current) {
        switch (cond.getKindCase()) {
            case MUST_NOT_EXIST:
                if (cond.getMustNotExist() && current.isPresent()) {
                    return Optional.of("must not exist, but exists at version " + current.get().version());
                }
                return Optional.empty();
            case MUST_EXIST:
                if (cond.getMustExist() && current.isEmpty()) {
                    return Optional.of("must exist, but does not");
                }
                return Optional.empty();
            case EXPECTED_VERSION:
                LogPosition expected = LogPosition.of(cond.getExpectedVersion());
                if (current.isEmpty()) {
                    return Optional.of("expected version " + expected + ", but the key does not exist");
                }
                if (!current.get().version().equals(expected)) {
                    return Optional.of("expected version " + expected + ", but it is at " + current.get().version());
                }
                return Optional.empty();
            default:
                return Optional.empty();
        }
    }

    /** Convenience for tests and callers that build values. */
    public static ByteString bytes(String s) {
        return ByteString.copyFromUtf8(s);
    }
}
