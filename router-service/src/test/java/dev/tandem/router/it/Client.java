package dev.tandem.router.it;

import static io.restassured.RestAssured.given;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.process.ServiceProcess;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

/**
 * A client session as an application would run it: it sends its token with every request and
 * keeps the token every answer returns. The router it talks to can change between calls.
 */
final class Client {

    private String token;

    Client() {}

    Client(String token) {
        this.token = token;
    }

    String token() {
        return token;
    }

    LogPosition position() {
        return token == null ? LogPosition.ZERO : SessionToken.parse(token).position();
    }

    RequestSpecification on(ServiceProcess router) {
        RequestSpecification r = given().baseUri(router.httpUrl()).urlEncodingEnabled(true);
        if (token != null) {
            r = r.header("Tandem-Session", token);
        }
        return r;
    }

    /** Keeps the answer's token, checking it never goes back for this session. */
    Response keep(Response r) {
        String next = r.getHeader("Tandem-Session");
        if (next == null) {
            throw new AssertionError("answer without Tandem-Session: " + r.statusCode() + " " + r.asString());
        }
        if (token != null) {
            SessionToken before = SessionToken.parse(token);
            SessionToken after = SessionToken.parse(next);
            if (!before.sessionId().equals(after.sessionId())) {
                throw new AssertionError("session id changed from " + before + " to " + after);
            }
            if (after.position().compareTo(before.position()) < 0) {
                throw new AssertionError("session token went back from " + before + " to " + after);
            }
        }
        token = next;
        return r;
    }

    Response put(ServiceProcess router, String key, String value) {
        return keep(on(router).contentType("text/plain").body(value).put("/v1/kv/" + key));
    }

    Response get(ServiceProcess router, String key) {
        return keep(on(router).get("/v1/kv/" + key));
    }
}
