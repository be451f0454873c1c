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
import jakarta.ws.rs.core.Response;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Error mapping: every expected code becomes its ErrorCodes status with a problem+json body. */
class ProblemsTest {

    private static final SessionToken TOKEN = new SessionToken("00000000000000ff", new LogPosition(1, 5));

    private static JsonNode body(Response r) throws Exception {
        return new ObjectMapper().readTree((String) r.getEntity());
    }

    @Test
    void everyExpectedCodeMapsToItsSharedStatusAndNeverTo500() throws Exception {
        for (ErrorCode code : ErrorCode.values()) {
            if (code == ErrorCode.OK || code == ErrorCode.UNRECOGNIZED || code == ErrorCode.INTERNAL) {
                continue;
            }
            Response r = Problems.response(new RouterException(code, "why"), TOKEN, 2);
            assertEquals(ErrorCodes.httpStatus(code), r.getStatus(), code.name());
            assertTrue(r.getStatus() != 500, code.name());
            assertEquals("application/problem+json", r.getMediaType().toString());
            JsonNode b = body(r);
            assertEquals(code.name(), b.get("code").asText());
            assertEquals(ErrorCodes.title(code), b.get("title").asText());
            assertEquals(r.getStatus(), b.get("status").asInt());
            assertEquals("why", b.get("detail").asText());
            assertEquals(TOKEN.toString(), r.getHeaderString("Tandem-Session"));
            assertEquals(r.getStatus() == 503 ? "2" : null, r.getHeaderString("Retry-After"), code.name());
        }
    }

    @Test
    void notConfirmedIs504WithTheWritesPosition() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.NOT_CONFIRMED).setMessage("durable on r1, 1 of 3 copies")
                .setPosition(new LogPosition(1, 9).toProto()).setOpIndex(-1).build();
        Response r = Problems.response(RouterException.fromReplica(e, "r1", null), TOKEN, 1);
        assertEquals(504, r.getStatus());
        assertEquals("1.9", body(r).get("position").asText());
        assertEquals("1.9", r.getHeaderString("Tandem-Position"));
        assertEquals("r1", r.getHeaderString("Tandem-Served-By"));
    }

    @Test
    void aReusedIdempotencyKeyIs422WithTheReplicasReason() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.IDEMPOTENCY_KEY_REUSED).setOpIndex(-1)
                .setMessage("request id 'client-order-17-create' was already used, at 1.38, for a write with other operations; nothing was written")
                .build();
        Response r = Problems.response(RouterException.fromReplica(e, "r1", null), TOKEN, 1);
        assertEquals(422, r.getStatus());
        assertEquals("application/problem+json", r.getMediaType().toString());
        JsonNode b = body(r);
        assertEquals("IDEMPOTENCY_KEY_REUSED", b.get("code").asText());
        assertEquals(422, b.get("status").asInt());
        assertEquals("https://tandem.dev/problems/idempotency-key-reused", b.get("type").asText());
        assertTrue(b.get("detail").asText().contains("nothing was written"));
        assertNull(r.getHeaderString("Retry-After"), "retrying the same refused request cannot succeed");
    }

    @Test
    void sessionWriteLostIs410WithTheLostPosition() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.SESSION_WRITE_LOST).setMessage("1.7 was rolled back")
                .setPosition(new LogPosition(1, 7).toProto()).build();
        Response r = Problems.response(RouterException.fromReplica(e, "r2", null), TOKEN, 1);
        assertEquals(410, r.getStatus());
        assertEquals("1.7", body(r).get("position").asText());
    }

    @Test
    void aTxnConditionIsPresentedAsAVersionConflictNamingTheOp() throws Exception {
        Error e = Error.newBuilder().setCode(ErrorCode.CONDITION_FAILED).setMessage("version differs").setOpIndex(1).build();
        Response r = Problems.response(RouterException.fromReplica(e, "r1", ErrorCode.VERSION_CONFLICT), TOKEN, 1);
        assertEquals(409, r.getStatus());
        assertEquals("VERSION_CONFLICT", body(r).get("code").asText());
        assertEquals(1, body(r).get("opIndex").asInt());
    }

    @Test
    void aSingleKeyConditionIs412() {
        Error e = Error.newBuilder().setCode(ErrorCode.CONDITION_FAILED).setMessage("exists").setOpIndex(0).build();
        assertEquals(412, Problems.response(RouterException.fromReplica(e, "r1", null), TOKEN, 1).getStatus());
    }

    @Test
    void aBugIsAn500InternalAndIsNotMistakenForAnExpectedCondition() throws Exception {
        RouterException e = Problems.classify(new CompletionException(new NullPointerException("oops")));
        assertEquals(ErrorCode.INTERNAL, e.code());
        Response r = Problems.response(e, TOKEN, 1);
        assertEquals(500, r.getStatus());
        assertFalse(body(r).get("detail").asText().contains("oops"), "internal details stay in the log");
    }

    @Test
    void routerExceptionsSurviveFutureWrapping() {
        RouterException inner = new RouterException(ErrorCode.NO_LEADER, "x");
        assertEquals(inner, Problems.classify(new CompletionException(inner)));
        assertNull(inner.position());
    }
}
