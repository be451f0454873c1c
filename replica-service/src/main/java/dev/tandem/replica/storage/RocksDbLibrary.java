package dev.tandem.replica.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/**
 * Loads RocksDB's JNI library from one fixed file in the temporary directory.
 *
 * <p>{@link RocksDB#loadLibrary()} copies the 17 MB library to a new randomly named file on every
 * start and relies on {@code deleteOnExit}, which never runs when the process is killed: a replica
 * restarted after SIGKILL (a crash, the local supervisor, a chaos run, a VM without a fresh
 * container layer) left one more copy behind each time, 650 MB after a 30-kill chaos run. Here
 * the library is copied to a temporary file and renamed onto the fixed name, so a concurrent start
 * in the same directory never sees a half-written file and a running process keeps the copy it
 * mapped.
 */
final class RocksDbLibrary {

    /** Leftovers of a copy interrupted by a kill are removed once they are this old: no copy takes that long. */
    static final Duration STALE_COPY_AGE = Duration.ofMinutes(10);
    private static final String COPY_PREFIX = "copy-";

    private RocksDbLibrary() {}

    /** Loads the library, from {@code tmpDir/tandem-rocksdb/} when the jar carries one for this platform. */
    static void load(Path tmpDir) {
        String resource = Environment.getJniLibraryFileName("rocksdb");
        try (InputStream in = RocksDB.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                RocksDB.loadLibrary(); // not bundled for this platform: let RocksDB find it its own way
                return;
            }
            Path dir = extract(in, tmpDir.resolve("tandem-rocksdb"));
            RocksDB.loadLibrary(List.of(dir.toString()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy RocksDB's native library to " + tmpDir, e);
        }
    }

    /** Copies the library into {@code dir} under the name {@link RocksDB#loadLibrary(List)} looks for; returns {@code dir}. */
    static Path extract(InputStream library, Path dir) throws IOException {
        Files.createDirectories(dir);
        removeStaleCopies(dir);
        Path copy = Files.createTempFile(dir, COPY_PREFIX, ".tmp");
        try {
            Files.copy(library, copy, StandardCopyOption.REPLACE_EXISTING);
            // The name RocksDB.loadLibrary(paths) builds, asked of RocksDB itself (it is not the jar's resource name).
            Files.move(copy, dir.resolve(Environment.getJniLibraryFileName("rocksdbjni")),
                    StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(copy);
        }
        return dir;
    }

    private static void removeStaleCopies(Path dir) throws IOException {
        Instant cutoff = Instant.now().minus(STALE_COPY_AGE);
        try (DirectoryStream<Path> copies = Files.newDirectoryStream(dir, COPY_PREFIX + "*.tmp")) {
            for (Path p : copies) {
                try {
                    if (Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException e) {
                    // another process removed it first
                }
            }
        }
    }
}
