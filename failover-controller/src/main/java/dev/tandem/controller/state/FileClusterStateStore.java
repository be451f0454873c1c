package dev.tandem.controller.state;

import dev.tandem.controller.model.ClusterState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The cluster state in one local JSON file, {@code {"version": n, "state": {...}}}.
 *
 * <p>Crash safety: a write goes to a temp file in the same directory, is fsynced, atomically
 * renamed over the state file, and the directory is fsynced, so a reader (or a controller that
 * restarts after a crash at any point) sees either the old or the new state, never half of one.
 * Compare-and-set: the version in the file must equal the version read; the check and the
 * rename happen under an exclusive lock on {@code <file>.cas-lock}, so two processes cannot
 * interleave them.
 */
public final class FileClusterStateStore implements ClusterStateStore {

    /** The on-disk envelope. */
    public record Envelope(long version, ClusterState state) {}

    /**
     * OS file locks are held per JVM: a second lock on the same file from this JVM throws instead
     * of waiting, so threads of one JVM serialise here first.
     */
    private static final ConcurrentMap<Path, Object> IN_JVM = new ConcurrentHashMap<>();

    private final Path file;
    private final Path lockFile;
    private final Path tempFile;

    public FileClusterStateStore(Path file) {
        this.file = file.toAbsolutePath();
        this.lockFile = this.file.resolveSibling(this.file.getFileName() + ".cas-lock");
        this.tempFile = this.file.resolveSibling(this.file.getFileName() + ".tmp");
        try {
            Files.createDirectories(this.file.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the directory of " + this.file, e);
        }
    }

    @Override
    public Optional<StoredState> read() {
        return readEnvelope().map(e -> new StoredState(e.state(), Long.toString(e.version())));
    }

    private Optional<Envelope> readEnvelope() {
        try {
            String json = Files.readString(file, StandardCharsets.UTF_8);
            return Optional.of(StateJson.read(json, Envelope.class));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read cluster state " + file, e);
        }
    }

    @Override
    public StoredState compareAndSet(String expectedVersion, ClusterState next) throws CasConflictException {
        synchronized (IN_JVM.computeIfAbsent(file, f -> new Object())) {
            return casLocked(expectedVersion, next);
        }
    }

    private StoredState casLocked(String expectedVersion, ClusterState next) throws CasConflictException {
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockChannel.lock()) {
            Optional<Envelope> current = readEnvelope();
            String currentVersion = current.map(e -> Long.toString(e.version())).orElse(null);
            if (expectedVersion == null ? currentVersion != null : !expectedVersion.equals(currentVersion)) {
                throw new CasConflictException("cluster state " + file + " is at version " + currentVersion
                        + ", expected " + expectedVersion);
            }
            long version = current.map(Envelope::version).orElse(0L) + 1;
            writeDurably(StateJson.write(new Envelope(version, next)));
            return new StoredState(next, Long.toString(version));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write cluster state " + file, e);
        }
    }

    private void writeDurably(String json) throws IOException {
        try (FileChannel ch = FileChannel.open(tempFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        try {
            Files.move(tempFile, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + file + " cannot rename atomically; the state would not be crash-safe", e);
        }
        // The rename is durable only once the directory entry is: fsync the directory.
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public String describe() {
        return "file " + file;
    }
}
