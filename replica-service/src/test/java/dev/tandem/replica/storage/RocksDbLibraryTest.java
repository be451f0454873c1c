package dev.tandem.replica.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.util.Environment;

class RocksDbLibraryTest {

    @TempDir
    Path tmp;

    @Test
    void everyStartCopiesToTheSameFile() throws Exception {
        Path dir = tmp.resolve("tandem-rocksdb");
        RocksDbLibrary.extract(new ByteArrayInputStream(new byte[] {1, 2, 3}), dir);
        RocksDbLibrary.extract(new ByteArrayInputStream(new byte[] {4, 5}), dir);

        Path library = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
        assertEquals(List.of(library), list(dir));
        assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(library), "the newest copy replaces the one before");
    }

    @Test
    void copiesLeftByAKilledStartAreRemovedOnceStale() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tandem-rocksdb"));
        Path stale = Files.write(dir.resolve("copy-1.tmp"), new byte[] {9});
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(RocksDbLibrary.STALE_COPY_AGE).minusSeconds(1)));
        Path inProgress = Files.write(dir.resolve("copy-2.tmp"), new byte[] {9}); // another process copying right now

        RocksDbLibrary.extract(new ByteArrayInputStream(new byte[] {1}), dir);

        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(inProgress));
    }

    private static List<Path> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }
}
