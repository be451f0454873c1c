package dev.tandem.cli.client;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * The router's REST API as workloads use it: {@code PUT/GET /v1/kv/{key}} with the Tandem headers.
 * One instance per client thread (an HTTP/1.1 connection is not shared between requests in flight).
 */
public final class RouterClient {

    /**
     * What came back. {@code status} is -1 when no response arrived (timeout, connection refused).
     * {@code replayed}: Tandem-Replayed, the write was answered from the idempotency window.
     */
    public record Response(int status, String body, String session, String position, String etag, String servedBy,
                           boolean replayed, String error, long latencyNanos) {

        public boolean isOk() {
            return status >= 200 && status < 300;
        }

        /** The version of the value read: ETag (quoted {@code "epoch.lsn"}) or, failing that, Tandem-Position. */
        public String version() {
            if (etag != null && !etag.isBlank()) {
                String v = etag.trim();
                if (v.startsWith("W/")) {
                    v = v.substring(2);
                }
                return v.replace("\"", "");
            }
            return position;
        }
    }

    private final String baseUrl;
    private final HttpClient http;
    private final Duration timeout;

    public RouterClient(String baseUrl, Duration timeout) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofMillis(500)).build();
    }

    public String baseUrl() {
        return baseUrl;
    }

    public Response put(String key, String value, String writeConcern, String session) {
        HttpRequest.Builder b = request(key, session).PUT(HttpRequest.BodyPublishers.ofString(value))
                .header("Content-Type", "text/plain");
        if (writeConcern != null) {
            b.header("Tandem-Write-Concern", writeConcern);
        }
        return send(b.build());
    }

    public Response get(String key, String consistency, String session) {
        HttpRequest.Builder b = request(key, session).GET();
        if (consistency != null) {
            b.header("Tandem-Consistency", consistency);
        }
        return send(b.build());
    }

    /** {@code GET path} (e.g. /v1/cluster, /q/health/ready). */
    public Response get(String path) {
        return send(HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(timeout).GET().build());
    }

    private HttpRequest.Builder request(String key, String session) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/kv/" + URLEncoder.encode(key, StandardCharsets.UTF_8)))
                .timeout(timeout);
        if (session != null) {
            b.header("Tandem-Session", session);
        }
        return b;
    }

    private Response send(HttpRequest req) {
        long start = System.nanoTime();
        try {
            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
            long took = System.nanoTime() - start;
            String error = r.statusCode() >= 400 ? errorCode(r.body()) : null;
            return new Response(r.statusCode(), r.body(), header(r, "Tandem-Session"), header(r, "Tandem-Position"),
                    header(r, "ETag"), header(r, "Tandem-Served-By"), "true".equals(header(r, "Tandem-Replayed")), error, took);
        } catch (HttpTimeoutException e) {
            return new Response(-1, null, null, null, null, null, false, "timeout", System.nanoTime() - start);
        } catch (IOException e) {
            return new Response(-1, null, null, null, null, null, false, "io: " + e.getClass().getSimpleName(), System.nanoTime() - start);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Response(-1, null, null, null, null, null, false, "interrupted", System.nanoTime() - start);
        }
    }

    private static String header(HttpResponse<?> r, String name) {
        Optional<String> v = r.headers().firstValue(name);
        return v.orElse(null);
    }

    /** The problem+json error code if the body names one ({@code "code":"NO_LEADER"}), else the body's start. */
    static String errorCode(String body) {
        if (body == null) {
            return null;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"(?:code|errorCode|error)\"\\s*:\\s*\"([A-Za-z_]+)\"").matcher(body);
        if (m.find()) {
            return m.group(1);
        }
        String flat = body.replaceAll("\\s+", " ").trim();
        return flat.length() > 120 ? flat.substring(0, 120) : flat;
    }
}
