package dev.tandem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/tandem switchover} against a stand-in controller (the JDK's HTTP server) answering
 * as the real one does: what it sends (secret header, target), what it prints, its exit status.
 * The controller side is proven on real replicas by failover-controller's SwitchoverIT.
 */
class SwitchoverCommandTest {

    @TempDir
    Path dir;
    HttpServer server;
    final List<String> requests = new ArrayList<>();
    volatile int status = 200;
    volatile String body = "{}";
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut;
    PrintStream oldErr;
    Path secretFile;

    @BeforeEach
    void setUp() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/admin/switchover", ex -> {
            requests.add(ex.getRequestMethod() + " " + ex.getRequestURI() + " secret=" + ex.getRequestHeaders().getFirst("Tandem-Cluster-Secret"));
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", status == 200 ? "application/json" : "application/problem+json");
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        secretFile = dir.resolve("secret");
        Files.writeString(secretFile, "cli-test-secret-0123456789\n");
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void tearDown() {
        System.setOut(oldOut);
        System.setErr(oldErr);
        try {
            server.stop(0);
        } catch (IllegalStateException alreadyStopped) {
            // a test stopped it to have nothing listen on its port
        }
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    int run(String... args) {
        List<String> all = new ArrayList<>(List.of("switchover"));
        all.addAll(List.of(args));
        return TandemCli.execute(all.toArray(String[]::new));
    }

    String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aSwitchoverThatMovedLeadershipExitsZeroAndSaysWhere() {
        body = "{\"status\":200,\"outcome\":\"done\",\"failoverId\":\"switchover-e3-x\",\"epoch\":3,\"from\":\"r1\",\"to\":\"r2\","
                + "\"message\":\"r2 leads epoch 3\",\"candidates\":\"r2=2.40 r3=2.39\",\"tookMs\":120}";
        assertEquals(0, run("--controller", url() + "/", "--secret-file", secretFile.toString(), "--to", "r2"), stderr());
        assertEquals(List.of("POST /v1/admin/switchover?to=r2 secret=cli-test-secret-0123456789"), requests);
        assertTrue(stdout().contains("switched over: r1 -> r2, epoch 3"), stdout());
        assertTrue(stdout().contains("r2=2.40 r3=2.39"), stdout());
    }

    @Test
    void withoutToTheControllerChooses() {
        body = "{\"status\":200,\"outcome\":\"done\",\"epoch\":2,\"from\":\"r1\",\"to\":\"r3\"}";
        assertEquals(0, run("--controller", url(), "--secret-file", secretFile.toString()), stderr());
        assertEquals(List.of("POST /v1/admin/switchover secret=cli-test-secret-0123456789"), requests);
        assertTrue(stdout().contains("most advanced follower"), stdout());
    }

    @Test
    void aRefusalPrintsTheControllersReasonAndExitsOne() {
        status = 409;
        body = "{\"type\":\"https://tandem.dev/problems/controller-switchover-target-unavailable\",\"title\":\"Switchover target unavailable\","
                + "\"status\":409,\"detail\":\"r3 does not answer (UNAVAILABLE: io exception); nothing was changed, r1 still leads epoch 2\"}";
        assertEquals(1, run("--controller", url(), "--secret-file", secretFile.toString(), "--to", "r3"));
        assertTrue(stderr().contains("Switchover target unavailable (409): r3 does not answer"), stderr());
    }

    @Test
    void aRejectedSecretSaysWhereTheSecretComesFrom() {
        status = 401;
        body = "{\"title\":\"Unauthenticated\",\"status\":401,\"detail\":\"wrong cluster secret in header Tandem-Cluster-Secret\"}";
        assertEquals(2, run("--controller", url(), "--secret-file", secretFile.toString(), "--to", "r2"), "a usage error, not a refusal");
        assertTrue(stderr().contains("Unauthenticated (401): wrong cluster secret"), stderr());
        assertTrue(stderr().contains("--secret-file FILE or env TANDEM_CLUSTER_SECRET"), stderr());
    }

    @Test
    void usageAndConnectionErrorsAreMessagesWithExitTwo() throws Exception {
        assertEquals(2, run("--controller", url(), "--secret-file", secretFile.toString(), "--to", " "));
        assertTrue(stderr().contains("--to needs a replica id"), stderr());
        assertEquals(2, run("--controller", url(), "--secret-file", dir.resolve("missing").toString()));
        assertTrue(stderr().contains("cannot read --secret-file"), stderr());
        assertEquals(2, run("--controller", "127.0.0.1:9", "--secret-file", secretFile.toString()));
        assertTrue(stderr().contains("must be an http:// or https:// URL"), stderr());
        int closed = server.getAddress().getPort();
        server.stop(0);
        assertEquals(2, run("--controller", "http://127.0.0.1:" + closed, "--secret-file", secretFile.toString()));
        assertTrue(stderr().contains("cannot reach the controller"), stderr());
        assertEquals(2, run("--bogus"));
        assertTrue(requests.isEmpty(), requests.toString());
        assertTrue(!stderr().contains("Exception in thread") && !stderr().contains("\tat "), "no stack traces: " + stderr());
    }

    @Test
    void helpExplainsWhatHappensAndTheExitStatus() {
        assertEquals(0, run("--help"));
        String help = stdout();
        assertTrue(help.contains("--to=REPLICA"), help);
        assertTrue(help.contains("zero loss"), help);
        assertTrue(help.contains("Exit status"), help);
        assertTrue(help.contains("--secret-file=FILE"), help);
    }
}
