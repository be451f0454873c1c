package dev.tandem.cli.local;

import java.io.IOException;
import java.time.Duration;
import java.util.Optional;

/**
 * Signals processes by PID. A PID in the description may have been reused by an unrelated process
 * since we wrote it, so every signal first checks that the process's command line still names the
 * service's port ({@code -Dquarkus.http.port=P}) or the supervisor's directory.
 */
public final class Pids {

    private Pids() {}

    /** The live process with {@code pid} whose command line contains {@code marker}. */
    public static Optional<ProcessHandle> find(long pid, String marker) {
        if (pid <= 0) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(p -> {
            Optional<String> cmd = p.info().commandLine();
            // Without a readable command line (another user's process) we cannot prove it is ours.
            return cmd.isPresent() && cmd.get().contains(marker);
        });
    }

    public static String portMarker(int port) {
        return "-Dquarkus.http.port=" + port + " ";
    }

    public static void signal(long pid, String signal) {
        try {
            Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + pid + " failed: " + out.trim());
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run kill: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** As {@link #signal} but ignoring a process that is already gone. */
    public static void signalQuietly(long pid, String signal) {
        try {
            signal(pid, signal);
        } catch (IllegalStateException e) {
            // it exited in the meantime: nothing to signal
        }
    }

    /** Waits up to {@code timeout} for the process to exit; true if it did. */
    public static boolean awaitExit(ProcessHandle p, Duration timeout) {
        try {
            p.onExit().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return !p.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        } catch (java.util.concurrent.ExecutionException e) {
            return !p.isAlive();
        }
    }

    /** SIGCONT (a stopped process cannot act on SIGTERM), SIGTERM, then SIGKILL after {@code grace}. */
    public static void terminate(ProcessHandle p, Duration grace) {
        signalQuietly(p.pid(), "CONT");
        p.destroy();
        if (!awaitExit(p, grace)) {
            p.destroyForcibly();
            awaitExit(p, Duration.ofSeconds(5));
        }
    }

    /** Whether the process is stopped by SIGSTOP (state T in /proc/PID/stat). */
    public static boolean isPaused(long pid) {
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
            int close = stat.lastIndexOf(')');
            return close > 0 && stat.length() > close + 2 && (stat.charAt(close + 2) == 'T' || stat.charAt(close + 2) == 't');
        } catch (IOException e) {
            return false;
        }
    }
}
