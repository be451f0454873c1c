package dev.tandem.process;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Picks loopback ports that are free right now (the kernel chooses; we never hard-code one).
 * The kernel may hand the same ephemeral port out again as soon as our probe socket closes, so
 * this remembers the ports it gave out recently and never returns one twice in a row of
 * {@link #REMEMBERED_PORTS} picks: a cluster started in one go gets distinct ports.
 */
public final class FreePorts {

    /** How many recently handed-out ports are never handed out again. */
    static final int REMEMBERED_PORTS = 256;
    /** Probes before giving up; the kernel cycles through thousands of ports, so this is ample. */
    private static final int MAX_PROBES = 64;

    private static final Deque<Integer> RECENT = new ArrayDeque<>();

    private FreePorts() {}

    public static synchronized int pick() {
        for (int probe = 0; probe < MAX_PROBES; probe++) {
            int port = probe();
            if (!RECENT.contains(port)) {
                RECENT.addLast(port);
                if (RECENT.size() > REMEMBERED_PORTS) {
                    RECENT.removeFirst();
                }
                return port;
            }
        }
        throw new IllegalStateException("no fresh loopback port after " + MAX_PROBES + " probes");
    }

    private static int probe() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }
}
