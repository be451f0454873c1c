package dev.tandem.router.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.tandem.proto.Check;
import dev.tandem.proto.Condition;
import dev.tandem.proto.Delete;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.router.routing.RouterException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Reads the JSON body of {@code POST /v1/txn} into ops. Strict on purpose: an unknown field or a
 * condition in the wrong shape is a 400 naming the op, never silently ignored (an ignored
 * condition would turn a guarded write into an unguarded one).
 *
 * <pre>
 * {"ops": [
 *   {"op": "check",  "key": "a", "condition": {"version": "1.7"}},
 *   {"op": "put",    "key": "b", "value": "text", "contentType": "text/plain", "condition": {"exists": false}},
 *   {"op": "put",    "key": "c", "valueBase64": "AAEC"},
 *   {"op": "delete", "key": "d", "condition": {"exists": true}}
 * ]}
 * </pre>
 */
public final class TxnParser {

    /** Most ops the router accepts in one request; the replica applies its own, usually smaller, limit. */
    public static final int MAX_OPS = 10_000;

    /** Trailing tokens fail: "{...} garbage" must not apply the batch that precedes the garbage. */
    private static final ObjectReader JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .readerFor(JsonNode.class);
    private static final Set<String> OP_FIELDS = Set.of("op", "key", "value", "valueBase64", "contentType", "condition");

    private TxnParser() {}

    public static List<Op> parse(byte[] body) {
        if (body == null || body.length == 0) {
            throw bad("the body must be a JSON object {\"ops\": [...]}");
        }
        JsonNode root;
        try {
            root = JSON.readValue(body);
        } catch (JsonProcessingException e) {
            throw bad("the body is not valid JSON: " + jsonProblem(e));
        } catch (IOException e) {
            throw bad("the body could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || !root.has("ops") || !root.get("ops").isArray()) {
            throw bad("the body must be a JSON object {\"ops\": [...]}");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("ops")) {
                throw bad("the body has unknown field '" + f + "' (allowed: [ops])");
            }
        }
        JsonNode ops = root.get("ops");
        if (ops.isEmpty()) {
            throw bad("a transaction needs at least one op");
        }
        if (ops.size() > MAX_OPS) {
            throw new RouterException(ErrorCode.BATCH_TOO_LARGE, "a transaction has at most " + MAX_OPS + " ops, got " + ops.size());
        }
        List<Op> out = new ArrayList<>(ops.size());
        for (int i = 0; i < ops.size(); i++) {
            out.add(op(ops.get(i), i));
        }
        return out;
    }

    private static Op op(JsonNode n, int i) {
        if (!n.isObject()) {
            throw bad("ops[" + i + "] must be an object");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!OP_FIELDS.contains(f)) {
                throw bad("ops[" + i + "] has unknown field '" + f + "' (allowed: " + OP_FIELDS + ")");
            }
        }
        String kind = text(n, "op", i, true);
        String rawKey = text(n, "key", i, true);
        String key;
        try {
            key = TandemHeaders.key(rawKey);
        } catch (RouterException e) {
            throw new RouterException(e.code(), "ops[" + i + "]: " + e.getMessage(), null, i, "");
        }
        switch (kind) {
            case "put": {
                String text = text(n, "value", i, false);
                String b64 = text(n, "valueBase64", i, false);
                if ((text == null) == (b64 == null)) {
                    throw bad("ops[" + i + "] (put) needs exactly one of 'value' (UTF-8 text) or 'valueBase64'");
                }
                if (text != null && TandemHeaders.loneSurrogate(text) >= 0) {
                    throw bad("ops[" + i + "].value is not valid Unicode: a lone surrogate at position "
                            + TandemHeaders.loneSurrogate(text) + " has no UTF-8 form (send binary values as valueBase64)");
                }
                byte[] value;
                try {
                    value = text != null ? text.getBytes(StandardCharsets.UTF_8) : Base64.getDecoder().decode(b64);
                } catch (IllegalArgumentException e) {
                    throw bad("ops[" + i + "].valueBase64 is not base64: " + e.getMessage());
                }
                String ct = TandemHeaders.contentType(text(n, "contentType", i, false), "ops[" + i + "].contentType");
                Put.Builder p = Put.newBuilder().setKey(key).setValue(ByteString.copyFrom(value))
                        .setContentType(ct != null ? ct : text != null ? "text/plain; charset=utf-8" : KvResource.OCTET_STREAM);
                condition(n, i, false).ifPresent(p::setCondition);
                return Op.newBuilder().setPut(p).build();
            }
            case "delete": {
                noValue(n, i, kind);
                Delete.Builder d = Delete.newBuilder().setKey(key);
                condition(n, i, false).ifPresent(d::setCondition);
                return Op.newBuilder().setDelete(d).build();
            }
            case "check": {
                noValue(n, i, kind);
                return Op.newBuilder().setCheck(Check.newBuilder().setKey(key).setCondition(condition(n, i, true).orElseThrow())).build();
            }
            default:
                throw bad("ops[" + i + "].op must be put, delete or check, got '" + kind + "'");
        }
    }

    private static java.util.Optional<Condition> condition(JsonNode n, int i, boolean required) {
        JsonNode c = n.get("condition");
        if (c != null && c.isNull()) {
            // Not "no condition": a client that meant a guard and sent null must not get an unguarded write.
            throw bad("ops[" + i + "].condition is null; omit the field for an unconditional op, or give {\"version\": \"<epoch>.<lsn>\"} or {\"exists\": true|false}");
        }
        if (c == null) {
            if (required) {
                throw bad("ops[" + i + "] (check) needs a condition: {\"version\": \"<epoch>.<lsn>\"} or {\"exists\": true|false}");
            }
            return java.util.Optional.empty();
        }
        if (!c.isObject() || c.size() != 1 || !(c.has("version") || c.has("exists"))) {
            throw bad("ops[" + i + "].condition must be exactly one of {\"version\": \"<epoch>.<lsn>\"} or {\"exists\": true|false}");
        }
        if (c.has("exists")) {
            if (!c.get("exists").isBoolean()) {
                throw bad("ops[" + i + "].condition.exists must be true or false");
            }
            boolean exists = c.get("exists").booleanValue();
            return java.util.Optional.of(exists ? Condition.newBuilder().setMustExist(true).build() : Condition.newBuilder().setMustNotExist(true).build());
        }
        if (!c.get("version").isTextual()) {
            throw bad("ops[" + i + "].condition.version must be a string \"<epoch>.<lsn>\"");
        }
        return java.util.Optional.of(Condition.newBuilder()
                .setExpectedVersion(TandemHeaders.version(c.get("version").textValue(), "ops[" + i + "].condition.version").toProto()).build());
    }

    private static void noValue(JsonNode n, int i, String kind) {
        if (n.has("value") || n.has("valueBase64") || n.has("contentType")) {
            throw bad("ops[" + i + "] (" + kind + ") takes no value");
        }
    }

    private static String text(JsonNode n, String field, int i, boolean required) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw bad("ops[" + i + "] needs '" + field + "'");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw bad("ops[" + i + "]." + field + " must be a string");
        }
        return v.textValue();
    }

    /**
     * Jackson's own message without its internals (the "Source: REDACTED (StreamReadFeature...)"
     * location suffix it appends), plus where the problem is.
     */
    static String jsonProblem(JsonProcessingException e) {
        String what = e.getOriginalMessage();
        if (what == null) {
            what = "malformed";
        } else if (what.startsWith("Trailing token")) {
            what = "unexpected data after the JSON object";
        } else {
            int cut = what.indexOf('\n');
            what = (cut >= 0 ? what.substring(0, cut) : what)
                    // "start marker at [Source: REDACTED (`StreamReadFeature...` disabled); line: 1, column: 1]"
                    .replaceAll("\\[Source: .*?; line: (\\d+), column: (\\d+)\\]", "[line $1, column $2]");
        }
        JsonLocation at = e.getLocation();
        return at == null ? what : what + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    private static RouterException bad(String detail) {
        return new RouterException(ErrorCode.INVALID_ARGUMENT, detail);
    }
}
