package dev.tandem.cli.chaos;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One line of a chaos history (JSON lines, Jepsen style). Three kinds:
 * <ul>
 *   <li>{@code op}: a client operation, recorded twice: {@code type=invoke} when sent, then
 *       {@code ok}, {@code fail} (it certainly did not happen) or {@code unknown} (it may have:
 *       timeout, connection lost, 504 not confirmed). {@code f} is {@code write} or {@code read};
 *       a write's {@code position} is its entry, a read's {@code position} the version it saw
 *       ({@code found=false}: no value).</li>
 *   <li>{@code fault}: a fault injected ({@code fault} = kill-leader, kill-follower, pause, resume,
 *       partition, heal) on {@code target}; {@code epoch} is the epoch the target led, if leader.</li>
 *   <li>{@code sample}: what a replica's Info said at time {@code t}: role, epoch, accepting writes.</li>
 * </ul>
 * A write {@code ok} with {@code replayed=true} was answered from the idempotency window: the router
 * retried it (same request id) on a new leader that already held the entry, so {@code servedBy}
 * confirmed the entry but did not accept it in {@code position}'s epoch.
 * <ul>
 * </ul>
 * {@code t} is milliseconds since the run began.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Event(double t, String kind, String client, String f, String type, String key, String value,
                    String concern, String consistency, String position, Boolean found, String servedBy, String error,
                    String fault, String target, Long epoch, String replica, String role, Boolean accepting, Boolean replayed) {

    public static Event invoke(double t, String client, String f, String key, String value, String concern, String consistency) {
        return new Event(t, "op", client, f, "invoke", key, value, concern, consistency, null, null, null, null, null, null, null,
                null, null, null, null);
    }

    public static Event writeOk(double t, String client, String key, String value, String concern, String position, String servedBy,
                                boolean replayed) {
        return new Event(t, "op", client, "write", "ok", key, value, concern, null, position, null, servedBy, null, null, null, null,
                null, null, null, replayed ? Boolean.TRUE : null);
    }

    public static Event readOk(double t, String client, String key, String consistency, boolean found, String value,
                               String version, String servedBy) {
        return new Event(t, "op", client, "read", "ok", key, value, null, consistency, version, found, servedBy, null, null, null,
                null, null, null, null, null);
    }

    /** {@code type} is fail or unknown. */
    public static Event failed(double t, String client, String f, String type, String key, String concern, String consistency,
                               String error) {
        return new Event(t, "op", client, f, type, key, null, concern, consistency, null, null, null, error, null, null, null,
                null, null, null, null);
    }

    public static Event fault(double t, String fault, String target, Long epoch) {
        return new Event(t, "fault", null, null, null, null, null, null, null, null, null, null, null, fault, target, epoch,
                null, null, null, null);
    }

    public static Event sample(double t, String replica, String role, long epoch, boolean accepting) {
        return new Event(t, "sample", null, null, null, null, null, null, null, null, null, null, null, null, null, epoch,
                replica, role, accepting, null);
    }

    public boolean isOp() {
        return "op".equals(kind);
    }
}
