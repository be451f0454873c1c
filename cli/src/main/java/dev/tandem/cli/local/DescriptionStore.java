package dev.tandem.cli.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Reads and writes {@code DIR/cluster.json}. The supervisor and operator commands run in different
 * processes, so every read-modify-write holds an OS file lock on {@code DIR/cluster.lock}, and
 * every write goes to a temporary file renamed into place: a reader never sees half a file.
 * The file holds the cluster secret, so it is readable by its owner only.
 */
public final class DescriptionStore {

    public static final String FILE_NAME = "cluster.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;

    public DescriptionStore(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
    }

    public Path dir() {
        return dir;
    }

    public Path file() {
        return dir.resolve(FILE_NAME);
    }

    public boolean exists() {
        return Files.isRegularFile(file());
    }

    public Optional<ClusterDescription> read() {
        if (!exists()) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(file().toFile(), ClusterDescription.class));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file() + ": " + e.getMessage(), e);
        }
    }

    /** The description, or an error that says how to get one. */
    public ClusterDescription require() {
        return read().orElseThrow(() -> new IllegalStateException("no local cluster in " + dir
                + " (no " + FILE_NAME + "): start one with bin/tandem local up" + (dir.endsWith(".tandem") ? "" : " --dir " + dir)));
    }

    public void write(ClusterDescription d) {
        withLock(() -> {
            writeUnlocked(d);
            return null;
        });
    }

    /** Applies {@code change} to the current description under the lock and writes the result. */
    public ClusterDescription update(UnaryOperator<ClusterDescription> change) {
        return withLock(() -> {
            ClusterDescription next = change.apply(require());
            writeUnlocked(next);
            return next;
        });
    }

    public void delete() {
        withLock(() -> {
            Files.deleteIfExists(file());
            return null;
        });
    }

    private void writeUnlocked(ClusterDescription d) throws IOException {
        Path tmp = dir.resolve(FILE_NAME + ".tmp");
        Files.write(tmp, JSON.writeValueAsBytes(d));
        try {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: nothing stronger to do
        }
        Files.move(tmp, file(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private interface Body<T> {
        T run() throws IOException;
    }

    // FileLock is per JVM, not per thread: a second thread locking would throw, so threads queue here first.
    private static final Object JVM_LOCK = new Object();

    private <T> T withLock(Body<T> body) {
        synchronized (JVM_LOCK) {
            return withFileLock(body);
        }
    }

    private <T> T withFileLock(Body<T> body) {
        try {
            Files.createDirectories(dir);
            try (FileChannel ch = FileChannel.open(dir.resolve("cluster.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                return body.run();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update " + file() + ": " + e.getMessage(), e);
        }
    }
}
