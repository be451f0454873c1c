package dev.tandem.router;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Requests refused before any replica is involved (the router's only replica is unreachable, as in
 * {@link RouterWithoutLeaderTest}): each gets a problem+json answer with the session headers, a
 * 400 with a reason rather than a silently changed request, and a 405 with Allow.
 */
@QuarkusTest
class RouterHttpErrorsTest {

    private static final String TOKEN_PATTERN = "v1\\.[0-9a-f]{16}\\.\\d+\\.\\d+";

    @TestHTTPResource("/")
    URL root;

    private static ValidatableResponse problem(ValidatableResponse r, int status, String code) {
        return r.statusCode(status)
                .contentType("application/problem+json")
                .header("Tandem-Session", matchesPattern(TOKEN_PATTERN))
                .header("Tandem-Served-By", "router")
                .body("status", equalTo(status))
                .body("code", equalTo(code))
                .body("type", startsWith("https://tandem.dev/problems/"));
    }

    /** Sends bytes as they are: HTTP clients normalize or refuse "..", "//" and bad escapes. */
    private String raw(String method, String target, String... headers) throws Exception {
        return rawWithBody(method, target, "", headers);
    }

    private String rawWithBody(String method, String target, String body, String... headers) throws Exception {
        try (Socket s = new Socket(root.getHost(), root.getPort())) {
            s.setSoTimeout(10_000);
            StringBuilder req = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            OutputStream out = s.getOutputStream();
            if (!body.isEmpty()) {
                req.append("Content-Length: ").append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
            }
            out.write(req.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(body.getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            in.transferTo(got);
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    private static void assertProblem(String answer, int status, String code) {
        assertTrue(answer.startsWith("HTTP/1.1 " + status + " "), answer);
        String lower = answer.toLowerCase(Locale.ROOT);
        assertTrue(lower.contains("content-type: application/problem+json"), answer);
        assertTrue(lower.contains("tandem-session: v1."), answer);
        assertTrue(answer.contains("\"code\":\"" + code + "\""), answer);
    }

    @Test
    void unknownPathsAre404ProblemsNotHtml() {
        problem(given().when().get("/nothing/here").then(), 404, "UNKNOWN_PATH").body("detail", containsString("/nothing/here"));
        problem(given().when().get("/v1/kv/../x").then(), 404, "UNKNOWN_PATH");
    }

    @Test
    void unsupportedMethodsAre405WithAllowAndOptionsAgrees() {
        problem(given().when().post("/v1/kv/a").then(), 405, "METHOD_NOT_ALLOWED")
                .header("Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
        given().when().head("/v1/txn").then().statusCode(405).header("Allow", "POST, OPTIONS")
                .header("Tandem-Session", matchesPattern(TOKEN_PATTERN));
        given().when().options("/v1/txn").then().statusCode(204).header("Allow", "POST, OPTIONS");
        problem(given().when().get("/v1/txn").then(), 405, "METHOD_NOT_ALLOWED").header("Allow", "POST, OPTIONS");
        problem(given().body("x").when().put("/v1/kv").then(), 405, "METHOD_NOT_ALLOWED").header("Allow", "GET, HEAD, OPTIONS");
        problem(given().when().delete("/v1/cluster").then(), 405, "METHOD_NOT_ALLOWED").header("Allow", "GET, HEAD, OPTIONS");
        given().when().options("/v1/kv/a").then().statusCode(204).header("Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
    }

    @Test
    void malformedPercentEncodingIs400Problem() throws Exception {
        assertProblem(raw("GET", "/v1/kv/%ZZ"), 400, "INVALID_ARGUMENT");
        assertProblem(raw("GET", "/v1/kv?prefix=%ZZ"), 400, "INVALID_ARGUMENT");
        assertProblem(raw("DELETE", "/v1/kv/a%2"), 400, "INVALID_ARGUMENT");
    }

    @Test
    void keysThatAreNotUtf8Are400NotReplacementCharacters() throws Exception {
        String put = rawWithBody("PUT", "/v1/kv/%C3", "x");
        assertProblem(put, 400, "INVALID_ARGUMENT");
        assertTrue(put.contains("not valid UTF-8"), put);
        assertProblem(raw("GET", "/v1/kv/a%ED%A0%80"), 400, "INVALID_ARGUMENT");
    }

    @Test
    void anEmptyKeyIs400ForEveryMethod() {
        problem(given().when().get("/v1/kv/").then(), 400, "INVALID_ARGUMENT").body("detail", equalTo("the key must not be empty"));
        problem(given().body("x").when().put("/v1/kv/").then(), 400, "INVALID_ARGUMENT").body("detail", equalTo("the key must not be empty"));
        problem(given().when().delete("/v1/kv/").then(), 400, "INVALID_ARGUMENT");
    }

    @Test
    void aPathThatOnlyNormalizesIntoAKeyIs400() throws Exception {
        String answer = raw("GET", "/v1/x/../kv/k");
        assertProblem(answer, 400, "INVALID_ARGUMENT");
        assertTrue(answer.contains("dot segments"), answer);
    }

    @Test
    void aBodyOverTheLimitIs413ProblemOnEveryPath() {
        byte[] tooBig = new byte[5 * 1024 * 1024 + 1];
        problem(given().contentType("application/json").body(tooBig).when().post("/v1/txn").then(), 413, "PAYLOAD_TOO_LARGE");
        problem(given().body(tooBig).when().put("/v1/kv/big").then(), 413, "PAYLOAD_TOO_LARGE")
                .body("detail", containsString("max-body-size"));
    }

    @Test
    void anUnparseableContentTypeIsRefusedAtWriteTime() {
        for (String bad : new String[] {"garbage", "text/", "a b", "/"}) {
            problem(given().header("Content-Type", bad).body(new byte[] {'x'}).when().put("/v1/kv/d").then(), 400, "INVALID_ARGUMENT")
                    .body("detail", containsString("Content-Type must be a media type"));
        }
        problem(given().contentType("application/json")
                .body("{\"ops\": [{\"op\": \"put\", \"key\": \"d\", \"value\": \"x\", \"contentType\": \"garbage\"}]}")
                .when().post("/v1/txn").then(), 400, "INVALID_ARGUMENT").body("detail", startsWith("ops[0].contentType must be a media type"));
    }

    @Test
    void conditionalHeadersThatCannotBeHonouredAre400() {
        problem(given().header("If-None-Match", "*").when().delete("/v1/kv/a").then(), 400, "INVALID_ARGUMENT")
                .body("detail", startsWith("If-None-Match is not supported on DELETE"));
        problem(given().header("If-Match", "\"1.1\"").contentType("application/json")
                .body("{\"ops\": [{\"op\": \"delete\", \"key\": \"a\"}]}").when().post("/v1/txn").then(), 400, "INVALID_ARGUMENT")
                .body("detail", startsWith("If-Match is not supported on POST /v1/txn"));
        problem(given().header("If-None-Match", "1.1").when().get("/v1/kv/a").then(), 400, "INVALID_ARGUMENT")
                .body("detail", startsWith("If-None-Match: expected"));
        // Strong comparison: a weak tag never matches, so the write is refused without asking a replica (else 503 here).
        problem(given().header("If-Match", "W/\"1.1\"").body("x").when().put("/v1/kv/a").then(), 412, "CONDITION_FAILED");
    }

    @Test
    void txnBodiesMustBeJsonTyped() throws Exception {
        String ops = "{\"ops\": [{\"op\": \"delete\", \"key\": \"a\"}]}";
        problem(given().contentType("text/plain").body(ops).when().post("/v1/txn").then(), 415, "UNSUPPORTED_MEDIA_TYPE");
        problem(given().contentType("application/x-www-form-urlencoded").body(ops).when().post("/v1/txn").then(), 415, "UNSUPPORTED_MEDIA_TYPE");
        // Accepted types reach routing (503: no leader here).
        given().contentType("application/json; charset=utf-8").body(ops).when().post("/v1/txn").then().statusCode(503);
        given().contentType("application/vnd.tandem+json").body(ops).when().post("/v1/txn").then().statusCode(503);
        String untyped = rawWithBody("POST", "/v1/txn", ops);
        assertTrue(untyped.startsWith("HTTP/1.1 503 "), untyped);
    }

    @Test
    void txnMessagesAreCleanAndScanLimitsSayOutOfRange() {
        given().contentType("application/json").body("{\"ops\": [{\"op\": \"put\"\n").when().post("/v1/txn")
                .then().statusCode(400).body("detail", matchesPattern("the body is not valid JSON: [^\\n]*\\(line \\d+, column \\d+\\)"));
        given().contentType("application/json").body("{\"ops\": [{\"op\": \"delete\"}]}").when().post("/v1/txn")
                .then().statusCode(400).body("detail", equalTo("ops[0] needs 'key'"));
        given().queryParam("limit", "99999999999999").when().get("/v1/kv")
                .then().statusCode(400).body("detail", startsWith("limit must be in 1..10000"));
        given().header("Tandem-Consistency", "linearizable").when().get("/v1/kv/a")
                .then().statusCode(400).body("detail", startsWith("Tandem-Consistency must be"));
    }

    @Test
    void headOfAKeyAnswersLikeGetWithoutABody() {
        // No leader here: the same 503 as GET, and the same headers.
        given().when().head("/v1/kv/a").then().statusCode(503).header("Tandem-Session", matchesPattern(TOKEN_PATTERN))
                .body(equalTo(""));
    }

    @Test
    void aKeyFarOverTheLimitIsKeyTooLargeNotABare414() throws Exception {
        // 70,000 characters: over Vert.x's default request line of 4096, under the router's 256 KiB.
        assertProblem(raw("GET", "/v1/kv/" + "k".repeat(70_000)), 400, "KEY_TOO_LARGE");
    }
}
