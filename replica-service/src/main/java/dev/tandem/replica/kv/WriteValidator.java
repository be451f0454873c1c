package dev.tandem.replica.kv;

import dev.tandem.proto.Condition;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.proto.WriteRequest;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Checks a write against the configured limits before it reaches the driver. Pure: the same
 * request always gets the same answer, so it runs on the caller's thread.
 *
 * @param maxKeyBytes     longest key, in UTF-8 bytes
 * @param maxValueBytes   longest value, in bytes
 * @param maxBatchOps     most ops in one write
 * @param maxBatchBytes   most key + value bytes in one write
 */
public record WriteValidator(int maxKeyBytes, int maxValueBytes, int maxBatchOps, long maxBatchBytes) {

    /** Longest request id, in characters: it is stored with every entry. */
    public static final int MAX_REQUEST_ID_CHARS = 256;
    /** Longest content type, in characters. */
    public static final int MAX_CONTENT_TYPE_CHARS = 256;

    public Optional<KvError> validate(WriteRequest req) {
        if (req.getOpsCount() == 0) {
            return fail(ErrorCode.INVALID_ARGUMENT, "a write needs at least one op", -1);
        }
        if (req.getOpsCount() > maxBatchOps) {
            return fail(ErrorCode.BATCH_TOO_LARGE, "batch has " + req.getOpsCount() + " ops; the limit is " + maxBatchOps, -1);
        }
        if (req.getRequestId().length() > MAX_REQUEST_ID_CHARS) {
            return fail(ErrorCode.INVALID_ARGUMENT, "request_id longer than " + MAX_REQUEST_ID_CHARS + " characters", -1);
        }
        if (req.getWriteConcernValue() < 0 || req.getWriteConcernValue() > 4) {
            return fail(ErrorCode.INVALID_ARGUMENT, "unknown write concern " + req.getWriteConcernValue(), -1);
        }
        long bytes = 0;
        java.util.Set<String> written = new java.util.HashSet<>();
        for (int i = 0; i < req.getOpsCount(); i++) {
            Op op = req.getOps(i);
            String key;
            Condition cond;
            switch (op.getKindCase()) {
                case PUT -> {
                    key = op.getPut().getKey();
                    cond = op.getPut().getCondition();
                    int vlen = op.getPut().getValue().size();
                    if (vlen > maxValueBytes) {
                        return fail(ErrorCode.VALUE_TOO_LARGE, "value of op " + i + " has " + vlen + " bytes; the limit is " + maxValueBytes, i);
                    }
                    if (op.getPut().getContentType().length() > MAX_CONTENT_TYPE_CHARS) {
                        return fail(ErrorCode.INVALID_ARGUMENT, "content type of op " + i + " is longer than " + MAX_CONTENT_TYPE_CHARS, i);
                    }
                    bytes += vlen;
                }
                case DELETE -> {
                    key = op.getDelete().getKey();
                    cond = op.getDelete().getCondition();
                }
                case CHECK -> {
                    key = op.getCheck().getKey();
                    cond = op.getCheck().getCondition();
                    if (cond.getKindCase() == Condition.KindCase.KIND_NOT_SET) {
                        return fail(ErrorCode.INVALID_ARGUMENT, "check op " + i + " has no condition", i);
                    }
                }
                default -> {
                    return fail(ErrorCode.INVALID_ARGUMENT, "op " + i + " is neither put, delete nor check", i);
                }
            }
            if (key.isEmpty()) {
                return fail(ErrorCode.INVALID_ARGUMENT, "op " + i + " has an empty key", i);
            }
            int klen = key.getBytes(StandardCharsets.UTF_8).length;
            if (klen > maxKeyBytes) {
                return fail(ErrorCode.KEY_TOO_LARGE, "key of op " + i + " has " + klen + " bytes; the limit is " + maxKeyBytes, i);
            }
            if (key.indexOf('\0') >= 0) {
                return fail(ErrorCode.INVALID_ARGUMENT, "key of op " + i + " contains a NUL character", i);
            }
            if (cond.getKindCase() == Condition.KindCase.EXPECTED_VERSION
                    && (cond.getExpectedVersion().getEpoch() < 0 || cond.getExpectedVersion().getLsn() < 0)) {
                // uint64 values of 2^63 and above: no real position is that large.
                return fail(ErrorCode.INVALID_ARGUMENT, "expected_version of op " + i + " is out of range", i);
            }
            if (cond.getKindCase() == Condition.KindCase.EXPECTED_VERSION && cond.getExpectedVersion().getLsn() == 0) {
                return fail(ErrorCode.INVALID_ARGUMENT, "expected_version of op " + i + " has lsn 0; use must_not_exist", i);
            }
            if (op.getKindCase() != Op.KindCase.CHECK && !written.add(key)) {
                return fail(ErrorCode.INVALID_ARGUMENT, "key '" + key + "' is written twice in one batch (op " + i + ")", i);
            }
            bytes += klen;
            if (bytes > maxBatchBytes) {
                return fail(ErrorCode.BATCH_TOO_LARGE, "batch exceeds " + maxBatchBytes + " bytes at op " + i, i);
            }
        }
        return Optional.empty();
    }

    private static Optional<KvError> fail(ErrorCode code, String message, int opIndex) {
        return Optional.of(new KvError(code, message, opIndex));
    }
}
