package dev.tandem.router.api;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import jakarta.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One answer of the API before it is sent: status, headers in the order they were added, and an
 * optional body with its content type. {@link Exchange} and {@link Problems} build it;
 * {@link KeyRoutes} writes it straight to Vert.x, the JAX-RS resources turn it into a
 * {@link Response}. The key routes do not build a JAX-RS Response because its case-insensitive
 * header tree was about a seventh of the router's Java time per read (docs/benchmarks.md).
 * Not thread-safe: one request builds and sends it.
 */
final class Reply {

    private static final String JSON = "application/json";

    private final int status;
    /** Name, value, name, value, ...: a reply has a handful of headers, so a list beats a map. */
    private final List<String> headers = new ArrayList<>(12);
    private String contentType;
    private byte[] body;

    private Reply(int status) {
        this.status = status;
    }

    static Reply status(int status) {
        return new Reply(status);
    }

    /** A reply with a JSON body. */
    static Reply json(int status, String json) {
        return new Reply(status).body(json.getBytes(StandardCharsets.UTF_8), JSON);
    }

    Reply body(byte[] bytes, String type) {
        this.body = bytes;
        this.contentType = type;
        return this;
    }

    /** Adds a header; a null value adds nothing. */
    Reply header(String name, String value) {
        if (value != null) {
            headers.add(name);
            headers.add(value);
        }
        return this;
    }

    /** Replaces every value of the header {@code name} (compared without case) by {@code value}. */
    Reply replaceHeader(String name, String value) {
        for (int i = headers.size() - 2; i >= 0; i -= 2) {
            if (headers.get(i).equalsIgnoreCase(name)) {
                headers.remove(i + 1);
                headers.remove(i);
            }
        }
        return header(name, value);
    }

    int status() {
        return status;
    }

    /** The first value of the header {@code name} (compared without case), or null. */
    String header(String name) {
        for (int i = 0; i < headers.size(); i += 2) {
            if (headers.get(i).equalsIgnoreCase(name)) {
                return headers.get(i + 1);
            }
        }
        return null;
    }

    String contentType() {
        return contentType;
    }

    /** The body, or null for a reply without one (204, 304). */
    byte[] body() {
        return body;
    }

    /** For the JAX-RS resources (scan, txn, cluster). */
    Response toResponse() {
        Response.ResponseBuilder rb = Response.status(status);
        for (int i = 0; i < headers.size(); i += 2) {
            rb.header(headers.get(i), headers.get(i + 1));
        }
        if (body != null) {
            // A header string, not .type(): a stored content type that JAX-RS cannot parse must not make the answer fail.
            rb.entity(body).header("Content-Type", contentType);
        }
        return rb.build();
    }

    /** Writes the reply on Vert.x, unless the client went away. */
    void send(HttpServerResponse out) {
        if (out.ended() || out.closed()) {
            return;
        }
        out.setStatusCode(status);
        for (int i = 0; i < headers.size(); i += 2) {
            out.headers().add(headers.get(i), headers.get(i + 1));
        }
        if (body == null) {
            out.end();
        } else {
            out.putHeader(HttpHeaders.CONTENT_TYPE, contentType);
            // Set here, not left to Vert.x: it leaves the length out of a HEAD response, which
            // should carry the length the GET would have (RFC 9110, 9.3.2).
            out.putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(body.length));
            out.end(Buffer.buffer(body));
        }
    }
}
