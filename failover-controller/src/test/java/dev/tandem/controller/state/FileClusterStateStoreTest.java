package dev.tandem.controller.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FileClusterStateStoreTest {

    Path dir;

    @BeforeEach
    void dir() throws Exception {
        Path base = Path.of("target", "tmp");
        Files.createDirectories(base);
        dir = Files.createTempDirectory(base, "state-store");
    }

    static ClusterState state(long epoch, String leader) {
        return new ClusterState(epoch, leader, List.of(new Member("r1", "127.0.0.1:7001"), new Member("r2", "127.0.0.1:7002")),
                null, List.of());
    }

    @Test
    void readsBackWhatItWroteWithAGrowingVersion() throws Exception {
        FileClusterStateStore store = new FileClusterStateStore(dir.resolve("cluster-state.json"));
        assertTrue(store.read().isEmpty());
        StoredState first = store.compareAndSet(null, state(1, "r1"));
        StoredState second = store.compareAndSet(first.version(), state(2, "r2"));
        assertEquals("1", first.version());
        assertEquals("2", second.version());
        StoredState read = new FileClusterStateStore(dir.resolve("cluster-state.json")).read().orElseThrow();
        assertEquals(state(2, "r2"), read.state());
        assertEquals("2", read.version());
    }

    @Test
    void refusesAWriteBasedOnAStaleVersion() throws Exception {
        FileClusterStateStore a = new FileClusterStateStore(dir.resolve("s.json"));
        FileClusterStateStore b = new FileClusterStateStore(dir.resolve("s.json"));
        StoredState v1 = a.compareAndSet(null, state(1, "r1"));
        b.compareAndSet(v1.version(), state(2, "r2"));
        CasConflictException e = assertThrows(CasConflictException.class, () -> a.compareAndSet(v1.version(), state(2, "r1")));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
        assertEquals("r2", a.read().orElseThrow().state().leader(), "the losing write left no trace");
    }

    @Test
    void refusesToCreateWhatAlreadyExists() throws Exception {
        FileClusterStateStore a = new FileClusterStateStore(dir.resolve("s.json"));
        a.compareAndSet(null, state(1, "r1"));
        assertThrows(CasConflictException.class, () -> a.compareAndSet(null, state(1, "r2")));
    }

    @Test
    void concurrentWritersFromTheSameVersionExactlyOneWins() throws Exception {
        FileClusterStateStore seed = new FileClusterStateStore(dir.resolve("s.json"));
        StoredState v1 = seed.compareAndSet(null, state(1, "r1"));
        int writers = 8;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger wins = new AtomicInteger();
        AtomicInteger conflicts = new AtomicInteger();
        for (int i = 0; i < writers; i++) {
            String leader = "w" + i;
            pool.submit(() -> {
                go.await();
                try {
                    new FileClusterStateStore(dir.resolve("s.json")).compareAndSet(v1.version(), state(2, leader));
                    wins.incrementAndGet();
                } catch (CasConflictException e) {
                    conflicts.incrementAndGet();
                }
                return null;
            });
        }
        go.countDown();
        pool.shutdown();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        assertEquals(1, wins.get());
        assertEquals(writers - 1, conflicts.get());
        assertEquals("2", seed.read().orElseThrow().version());
    }

    @Test
    void aCrashBeforeTheRenameLeavesTheOldStateIntact() throws Exception {
        Path file = dir.resolve("s.json");
        FileClusterStateStore store = new FileClusterStateStore(file);
        StoredState v1 = store.compareAndSet(null, state(1, "r1"));
        // A crash after writing part of the temp file but before the rename: the temp file is
        // garbage, the state file is untouched, and the next write simply replaces the temp file.
        Files.writeString(file.resolveSibling("s.json.tmp"), "{\"version\": 9, \"state\": {\"epo", StandardCharsets.UTF_8);
        StoredState read = new FileClusterStateStore(file).read().orElseThrow();
        assertEquals(state(1, "r1"), read.state());
        StoredState v2 = store.compareAndSet(v1.version(), state(2, "r2"));
        assertEquals("2", v2.version());
        assertEquals(state(2, "r2"), store.read().orElseThrow().state());
        assertFalse(Files.exists(file.resolveSibling("s.json.tmp")), "the temp file was renamed into place");
    }

    @Test
    void theFileIsAlwaysCompleteJsonWhileWritersRace() throws Exception {
        Path file = dir.resolve("s.json");
        FileClusterStateStore store = new FileClusterStateStore(file);
        StoredState[] last = {store.compareAndSet(null, state(1, "r1"))};
        ExecutorService pool = Executors.newSingleThreadExecutor();
        Future<?> writer = pool.submit(() -> {
            for (int i = 2; i < 60; i++) {
                last[0] = store.compareAndSet(last[0].version(), state(i, "r" + (i % 2 + 1)));
            }
            return null;
        });
        int reads = 0;
        while (!writer.isDone()) {
            // Readers never see a partial file: read() would throw on broken JSON.
            assertTrue(new FileClusterStateStore(file).read().isPresent());
            reads++;
        }
        writer.get();
        pool.shutdown();
        assertEquals(59, store.read().orElseThrow().state().epoch());
        assertTrue(reads > 0);
    }
}
