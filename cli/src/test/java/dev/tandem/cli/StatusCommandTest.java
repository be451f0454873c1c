package dev.tandem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/tandem status} against a stand-in router (the JDK's HTTP server) answering
 * {@code GET /v1/cluster} in the real router's shape: the exit status says whether the cluster is
 * healthy (0), unhealthy (1) or could not be asked (2), as docs/cli.md promises.
 */
class StatusCommandTest {

    static final String HEALTHY = """
            {"leader":"r1","epoch":3,"replicas":[
              {"id":"r1","address":"127.0.0.1:1","healthy":true,"role":"leader","epoch":3},
              {"id":"r2","address":"127.0.0.1:2","healthy":true,"role":"follower","epoch":3}]}""";

    HttpServer server;
    volatile int status = 200;
    volatile String body = HEALTHY;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut;
    PrintStream oldErr;

    @BeforeEach
    void setUp() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void tearDown() {
        System.setOut(oldOut);
        System.setErr(oldErr);
        server.stop(0);
    }

    int status(String... extra) {
        String[] args = new String[extra.length + 3];
        args[0] = "status";
        args[1] = "--router";
        args[2] = "http://127.0.0.1:" + server.getAddress().getPort();
        System.arraycopy(extra, 0, args, 3, extra.length);
        return TandemCli.execute(args);
    }

    String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aHealthyClusterExitsZero() {
        assertEquals(0, status());
        assertTrue(stdout().contains("leader: r1"), stdout());
        assertEquals(0, status("--json"));
    }

    @Test
    void noLeaderExitsOneAndSaysWhy() {
        body = HEALTHY.replace("\"leader\":\"r1\"", "\"leader\":null");
        assertEquals(1, status());
        assertTrue(stdout().contains("unhealthy: no leader"), stdout());
        assertEquals(1, status("--json"), "--json prints the answer as is but keeps the exit status");
    }

    @Test
    void aReplicaTheRouterCannotReachExitsOne() {
        body = HEALTHY.replace("{\"id\":\"r2\",\"address\":\"127.0.0.1:2\",\"healthy\":true",
                "{\"id\":\"r2\",\"address\":\"127.0.0.1:2\",\"healthy\":false,\"error\":\"UNAVAILABLE: io exception\"");
        assertEquals(1, status());
        assertTrue(stdout().contains("unhealthy: replica r2 is not answering the router (UNAVAILABLE: io exception)"), stdout());
    }

    @Test
    void somethingOtherThanARouterIsAUsageErrorNotAnUnhealthyCluster() {
        status = 404;
        body = "<html><body>Not Found</body></html>";
        assertEquals(2, status());
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("is --router the URL of a Tandem router?"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void everyCommandGroupHasHelp() {
        assertEquals(0, TandemCli.execute("local", "--help"));
        assertTrue(stdout().contains("Usage: tandem local"), stdout());
    }
}
