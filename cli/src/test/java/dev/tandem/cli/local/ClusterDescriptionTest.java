package dev.tandem.cli.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.cli.local.ClusterDescription.Desired;
import dev.tandem.cli.local.ClusterDescription.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterDescriptionTest {

    @TempDir
    Path dir;

    static ClusterDescription three(Path dir) {
        AtomicInteger port = new AtomicInteger(7000);
        return ClusterDescription.create(dir, "0123456789abcdef0123", "one", 1000, 3, port::incrementAndGet);
    }

    @Test
    void describesReplicasControllerAndRouterWithTheirOwnPortsAndDataDirs() {
        ClusterDescription d = three(dir);
        assertEquals(List.of("r1", "r2", "r3", "controller", "router"), d.services().stream().map(ClusterDescription.Service::name).toList());
        assertEquals("r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003", d.replicaList());
        assertEquals(dir.resolve("r2").toString(), d.require("r2").dataDir());
        assertEquals(Kind.router, d.router().kind());
        assertEquals(7005, d.router().port());
        assertEquals(dir.resolve("cluster-state.json"), d.clusterStateFile());
    }

    @Test
    void roundTripsThroughTheFileAndKeepsTheSecretPrivate() throws Exception {
        DescriptionStore store = new DescriptionStore(dir);
        ClusterDescription d = three(dir);
        store.write(d);
        assertEquals(d, store.require());
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(store.file()));
    }

    @Test
    void operatorIntentAndSupervisorStatusAreSeparateFields() {
        DescriptionStore store = new DescriptionStore(dir);
        store.write(three(dir));
        store.update(d -> d.withService("r2", s -> s.withDesired(Desired.stopped)));
        store.update(d -> d.withService("r2", s -> s.restarted(4242)));
        ClusterDescription.Service r2 = store.require().require("r2");
        assertEquals(Desired.stopped, r2.desired());
        assertEquals(4242, r2.pid());
        assertEquals(1, r2.restarts());
    }

    @Test
    void concurrentUpdatesAreNotLost() throws Exception {
        DescriptionStore store = new DescriptionStore(dir);
        store.write(three(dir));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        for (int i = 0; i < 40; i++) {
            pool.submit(() -> store.update(d -> d.withService("r1", s -> s.restarted(s.pid() + 1))));
        }
        pool.shutdown();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        assertEquals(40, store.require().require("r1").restarts());
    }

    @Test
    void namesWhatExistsWhenAskedForAnUnknownService() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> three(dir).require("r9"));
        assertTrue(e.getMessage().contains("r1"), e.getMessage());
    }

    @Test
    void saysHowToStartAClusterWhenThereIsNone() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new DescriptionStore(dir).require());
        assertTrue(e.getMessage().contains("bin/tandem local up"), e.getMessage());
    }
}
