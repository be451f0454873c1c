package dev.tandem.controller.leadership;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Local mode: the controller holding an exclusive OS lock on {@code <state file>.lock} acts. The
 * kernel releases the lock when the process dies (even by SIGKILL), so a standby takes over
 * within one retry period, without any lease timing to tune.
 */
public final class LockFileLeadership implements ControllerLeadership {

    private static final Logger LOG = Logger.getLogger(LockFileLeadership.class);
    /** How often a standby retries the lock, in ms. */
    public static final long RETRY_MS = 200;

    private final Path lockFile;
    private final String identity;
    private final ScheduledExecutorService retry;
    private FileChannel channel;
    private volatile FileLock lock;

    public LockFileLeadership(Path lockFile, String identity) {
        this.lockFile = lockFile.toAbsolutePath();
        this.identity = identity;
        this.retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tandem-controller-lockfile");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void start() {
        try {
            Files.createDirectories(lockFile.getParent());
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open controller lock file " + lockFile, e);
        }
        tryAcquire();
        if (lock == null) {
            LOG.infof("controller %s is standby: %s is held by another controller", identity, lockFile);
            retry.scheduleWithFixedDelay(this::tryAcquire, RETRY_MS, RETRY_MS, TimeUnit.MILLISECONDS);
        }
    }

    private synchronized void tryAcquire() {
        if (lock != null) {
            return;
        }
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // another controller in this same JVM holds it (tests)
        } catch (IOException e) {
            LOG.warnf("cannot try controller lock %s: %s", lockFile, e.getMessage());
        }
        if (lock != null) {
            LOG.infof("controller %s is active (holds %s)", identity, lockFile);
            retry.shutdown();
        }
    }

    @Override
    public boolean isActive() {
        FileLock l = lock;
        return l != null && l.isValid();
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public synchronized void close() {
        retry.shutdownNow();
        try {
            if (lock != null) {
                lock.release();
            }
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            LOG.warnf("releasing %s: %s", lockFile, e.getMessage());
        }
        lock = null;
    }
}
