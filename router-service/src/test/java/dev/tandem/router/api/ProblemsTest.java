package dev.tandem.router.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tandem.common.ErrorCodes;
import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.router.routing.RouterException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Error mapping: every expected code becomes its ErrorCodes status with a problem+json body. */
class ProblemsTest {

    private static final SessionToken TOKEN = new SessionToken("00000000000000ff", new LogPosition(1, 5));

    private static JsonNode body(Reply r) throws Exception {
        return new ObjectMapper().readTree(new String(r.body(), StandardCharsets.UTF_8));
    }

    @Test
    void everyExpectedCodeMapsToItsSharedStatusAndNeverTo500() throws Exception {
        for (ErrorCode code : ErrorCode.values()) {
            if (code == ErrorCode.OK || code == ErrorCode.UNRECOGNIZED || code == ErrorCode.INTERNAL) {
                continue;
            }
            Reply r = Problems.reply(new RouterException(code, "why"), TOKEN, 2);
            assertEquals(ErrorCodes.httpStatus(code), r.status(), code.name());
            assertTrue(r.status() != 500, code.name());
            assertEquals("application/problem+json", r.contentType());
            JsonNode b = body(r);
            assertEquals(code.name(), b.get("code").asText());
            assertEquals(ErrorCodes.title(code), b.get("title").asText());
            assertEquals(r.status(), b.get("status").asInt());
            assertEquals("why", b.get("detail").asText());
            assertEquals(TOKEN.toString(), r.header("Tandem-Session"));
            assertEquals(r.status() == 503 ? "2" : null, r.header("Retry-After"), code.name());
        }
    }

    @Test
    void notConfirmedIs504WithTheWritesPosition() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.NOT_CONFIRMED).setMessage("durable on r1, 1 of 3 copies")
                .setPosition(new LogPosition(1, 9).toProto()).setOpIndex(-1).build();
        Reply r = Problems.reply(RouterException.fromReplica(e, "r1", null), TOKEN, 1);
        assertEquals(504, r.status());
        assertEquals("1.9", body(r).get("position").asText());
        assertEquals("1.9", r.header("Tandem-Position"));
        assertEquals("r1", r.header("Tandem-Served-By"));
    }

    @Test
    void aReusedIdempotencyKeyIs422WithTheReplicasReason() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.IDEMPOTENCY_KEY_REUSED).setOpIndex(-1)
                .setMessage("request id 'client-order-17-create' was already used, at 1.38, for a write with other operations; nothing was written")
                .build();
        Reply r = Problems.reply(RouterException.fromReplica(e, "r1", null), TOKEN, 1);
        assertEquals(422, r.status());
        assertEquals("application/problem+json", r.contentType());
        JsonNode b = body(r);
        assertEquals("IDEMPOTENCY_KEY_REUSED", b.get("code").asText());
        assertEquals(422, b.get("status").asInt());
        assertEquals("https://tandem.dev/problems/idempotency-key-reused", b.get("type").asText());
        assertTrue(b.get("detail").asText().contains("nothing was written"));
        assertNull(r.header("Retry-After"), "retrying the same refused request cannot succeed");
    }

    @Test
    void sessionWriteLostIs410WithTheLostPosition() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.SESSION_WRITE_LOST).setMessage("1.7 was rolled back")
                .setPosition(new LogPosition(1, 7).toProto()).build();
        Reply r = Problems.reply(RouterException.fromReplica(e, "r2", null), TOKEN, 1);
        assertEquals(410, r.status());
        assertEquals("1.7", body(r).get("position").asText());
    }

    @Test
    void aTxnConditionIsPresentedAsAVersionConflictNamingTheOp() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.CONDITION_FAILED).setMessage("version differs").setOpIndex(1).build();
        Reply r = Problems.reply(RouterException.fromReplica(e, "r1", ErrorCode.VERSION_CONFLICT), TOKEN, 1);
        assertEquals(409, r.status());
        assertEquals("VERSION_CONFLICT", body(r).get("code").asText());
        assertEquals(1, body(r).get("opIndex").asInt());
    }

    @Test
    void aSingleKeyConditionIs412() {
        Error e = Error.newBuilder().setCode(ErrorCode.CONDITION_FAILED).setMessage("exists").setOpIndex(0).build();
        assertEquals(412, Problems.reply(RouterException.fromReplica(e, "r1", null), TOKEN, 1).status());
    }

    @Test
    void aBugIsAn500InternalAndIsNotMistakenForAnExpectedCondition() throws Exception {
        RouterException e = Problems.classify(new CompletionException(new NullPointerException("oops")));
        assertEquals(ErrorCode.INTERNAL, e.code());
        Reply r = Problems.reply(e, TOKEN, 1);
        assertEquals(500, r.status());
        assertFalse(body(r).get("detail").asText().contains("oops"), "internal details stay in the log");
    }

    @Test
    void routerExceptionsSurviveFutureWrapping() {
        RouterException inner = new RouterException(ErrorCode.NO_LEADER, "x");
        assertEquals(inner, Problems.classify(new CompletionException(inner)));
        assertNull(inner.position());
    }
}
