package dev.tandem.cli.chaos;

import dev.tandem.common.LogPosition;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Checks a chaos run against the design's invariants. Pure: it reads a history and what was
 * observed after quiescence, and returns every violation it finds with enough detail to look the
 * operations up in the history file. It never talks to a cluster, so each property is unit-tested
 * with hand-made histories that break it.
 *
 * <p>Properties (names as reported):
 * <ol>
 *   <li>{@code lost-write}: every write acknowledged with {@code one}, {@code majority} or
 *       {@code all} is in the final state: its key holds its value, or a value of a write at a
 *       later position.</li>
 *   <li>{@code read-your-writes}: once a session's write is acknowledged, the session's later
 *       reads of that key see it or something newer.</li>
 *   <li>{@code monotonic-reads}: a session's reads of one key never go back to an older version
 *       (or back to "not found").</li>
 *   <li>{@code two-leaders}: no epoch has two replicas that accepted writes (from Info samples and
 *       from which replica acknowledged each write).</li>
 *   <li>{@code divergence}: after quiescence every replica reports the same digest at the same lsn.</li>
 *   <li>{@code untraced-rollback}: every entry a replica rolled back is in its rollback file, and
 *       every lost {@code leader}-concern write is found there.</li>
 * </ol>
 */
public final class HistoryChecker {

    public enum Property {
        LOST_WRITE("lost-write"),
        READ_YOUR_WRITES("read-your-writes"),
        MONOTONIC_READS("monotonic-reads"),
        TWO_LEADERS("two-leaders"),
        DIVERGENCE("divergence"),
        UNTRACED_ROLLBACK("untraced-rollback");

        public final String label;

        Property(String label) {
            this.label = label;
        }
    }

    public record Violation(Property property, String message) {
        @Override
        public String toString() {
            return property.label + ": " + message;
        }
    }

    /** A key's value after quiescence, read with strong consistency. */
    public record FinalValue(String value, String version) {}

    /** What one replica reported after quiescence. {@code answered=false}: it did not answer Status. */
    public record ReplicaFinal(boolean answered, String digest, long digestLsn, long rolledBackEntries,
                               long rollbackFileEntries, Set<String> rollbackKeys) {}

    /**
     * @param finalState         every key's value after quiescence (absent = not found)
     * @param finalStateComplete false when the final read failed, so nothing can be proven durable
     */
    public record Input(List<Event> history, Map<String, FinalValue> finalState, boolean finalStateComplete,
                        Map<String, ReplicaFinal> replicas) {}

    /** Concerns whose acknowledgement promises survival of a single replica failure. */
    static final Set<String> DURABLE_CONCERNS = Set.of("one", "majority", "all");

    private HistoryChecker() {}

    /** An acknowledged write: who, what, where it landed. */
    private record Acked(String client, String key, String value, String concern, LogPosition position, double okT) {}

    public static List<Violation> check(Input in) {
        List<Violation> out = new ArrayList<>();
        List<Acked> acked = ackedWrites(in.history());
        checkDurability(in, acked, out);
        checkSessions(in.history(), out);
        checkLeaders(in.history(), out);
        checkConvergence(in.replicas(), out);
        checkRollbacks(in, acked, out);
        return out;
    }

    /** Pairs each completion with its client's pending invoke; a client has one operation in flight at a time. */
    static List<Event[]> pairs(List<Event> history) {
        Map<String, Event> pending = new HashMap<>();
        List<Event[]> out = new ArrayList<>();
        for (Event e : history) {
            if (!e.isOp()) {
                continue;
            }
            if ("invoke".equals(e.type())) {
                Event previous = pending.put(e.client(), e);
                if (previous != null) {
                    throw new IllegalArgumentException("client " + e.client() + " invoked at " + e.t() + " with an operation still open since "
                            + previous.t() + ": the history is malformed");
                }
            } else {
                Event inv = pending.remove(e.client());
                if (inv == null) {
                    throw new IllegalArgumentException("completion without invoke for client " + e.client() + " at " + e.t());
                }
                out.add(new Event[] {inv, e});
            }
        }
        return out;
    }

    private static List<Acked> ackedWrites(List<Event> history) {
        List<Acked> out = new ArrayList<>();
        for (Event[] p : pairs(history)) {
            Event inv = p[0];
            Event done = p[1];
            if ("write".equals(inv.f()) && "ok".equals(done.type())) {
                out.add(new Acked(inv.client(), inv.key(), inv.value(), inv.concern(), pos(done.position()), done.t()));
            }
        }
        return out;
    }

    private static void checkDurability(Input in, List<Acked> acked, List<Violation> out) {
        Map<String, Set<String>> valuesWritten = new HashMap<>();
        for (Event e : in.history()) {
            if (e.isOp() && "invoke".equals(e.type()) && "write".equals(e.f())) {
                valuesWritten.computeIfAbsent(e.key(), k -> new HashSet<>()).add(e.value());
            }
        }
        // The newest durable acknowledgement per key: the final state must hold it or something newer.
        Map<String, Acked> newest = new TreeMap<>();
        for (Acked a : acked) {
            if (!DURABLE_CONCERNS.contains(a.concern())) {
                continue;
            }
            Acked prev = newest.get(a.key());
            if (prev == null || compare(a.position(), prev.position()) > 0) {
                newest.put(a.key(), a);
            }
        }
        if (!newest.isEmpty() && !in.finalStateComplete()) {
            out.add(new Violation(Property.LOST_WRITE, "the final strong read did not complete, so none of " + newest.size()
                    + " keys with acknowledged writes could be verified"));
            return;
        }
        int reported = 0;
        int lost = 0;
        for (Acked a : newest.values()) {
            FinalValue f = in.finalState().get(a.key());
            String problem = null;
            if (f == null) {
                problem = "is missing";
            } else {
                LogPosition v = pos(f.version());
                int c = compare(v, a.position());
                if (c < 0) {
                    problem = "was rolled back to version " + f.version();
                } else if (c == 0 && !a.value().equals(f.value())) {
                    problem = "holds '" + f.value() + "' at the same version";
                } else if (c > 0 && !valuesWritten.getOrDefault(a.key(), Set.of()).contains(f.value())) {
                    problem = "holds '" + f.value() + "', a value no client wrote";
                } else if (a.position() == null && v == null && !a.value().equals(f.value())) {
                    problem = "holds '" + f.value() + "' (no positions to order them)";
                }
            }
            if (problem != null) {
                lost++;
                if (reported++ < 20) {
                    out.add(new Violation(Property.LOST_WRITE, "write of " + a.key() + "='" + a.value() + "' by " + a.client()
                            + " acknowledged with " + a.concern() + " at " + a.position() + " (t=" + ms(a.okT()) + ") " + problem));
                }
            }
        }
        if (lost > reported) {
            out.add(new Violation(Property.LOST_WRITE, (lost - reported) + " more lost writes not listed"));
        }
    }

    private static void checkSessions(List<Event> history, List<Violation> out) {
        // Per client: the newest acknowledged write per key, and the newest version read per key.
        Map<String, Map<String, Acked>> written = new HashMap<>();
        Map<String, Map<String, Event>> lastRead = new HashMap<>();
        int ryw = 0;
        int mono = 0;
        for (Event[] p : pairs(history)) {
            Event inv = p[0];
            Event done = p[1];
            if (!"ok".equals(done.type())) {
                continue;
            }
            String c = inv.client();
            if ("write".equals(inv.f())) {
                Acked a = new Acked(c, inv.key(), inv.value(), inv.concern(), pos(done.position()), done.t());
                Acked prev = written.computeIfAbsent(c, x -> new HashMap<>()).get(inv.key());
                if (prev == null || compare(a.position(), prev.position()) >= 0) {
                    written.get(c).put(inv.key(), a);
                }
                continue;
            }
            boolean found = Boolean.TRUE.equals(done.found());
            LogPosition version = found ? pos(done.position()) : null;
            Acked w = written.getOrDefault(c, Map.of()).get(inv.key());
            // Only writes acknowledged before this read was sent bind it.
            if (w != null && w.okT() <= inv.t()) {
                String problem = null;
                if (!found) {
                    problem = "found nothing";
                } else if (compare(version, w.position()) < 0) {
                    problem = "saw older version " + version;
                } else if (compare(version, w.position()) == 0 && !w.value().equals(done.value())) {
                    problem = "saw '" + done.value() + "' at the same version";
                }
                if (problem != null && ryw++ < 20) {
                    out.add(new Violation(Property.READ_YOUR_WRITES, c + " read " + inv.key() + " at t=" + ms(inv.t()) + " from "
                            + done.servedBy() + " and " + problem + " after its own write '" + w.value() + "' at " + w.position()
                            + " was acknowledged (t=" + ms(w.okT()) + ")"));
                }
            }
            Event prev = lastRead.computeIfAbsent(c, x -> new HashMap<>()).get(inv.key());
            if (prev != null) {
                boolean prevFound = Boolean.TRUE.equals(prev.found());
                LogPosition prevVersion = prevFound ? pos(prev.position()) : null;
                if (prevFound && (!found || compare(version, prevVersion) < 0)) {
                    if (mono++ < 20) {
                        out.add(new Violation(Property.MONOTONIC_READS, c + " read " + inv.key() + " at t=" + ms(inv.t()) + " from "
                                + done.servedBy() + " and saw " + (found ? "version " + version : "nothing") + " after having seen "
                                + prevVersion + " from " + prev.servedBy() + " at t=" + ms(prev.t())));
                    }
                }
            }
            if (prev == null || !Boolean.TRUE.equals(prev.found()) || (found && compare(version, pos(prev.position())) >= 0)) {
                lastRead.get(c).put(inv.key(), done);
            }
        }
        if (ryw > 20) {
            out.add(new Violation(Property.READ_YOUR_WRITES, (ryw - 20) + " more not listed"));
        }
        if (mono > 20) {
            out.add(new Violation(Property.MONOTONIC_READS, (mono - 20) + " more not listed"));
        }
    }

    private static void checkLeaders(List<Event> history, List<Violation> out) {
        Map<Long, Set<String>> sampled = new TreeMap<>();
        for (Event e : history) {
            if ("sample".equals(e.kind()) && "leader".equals(e.role()) && Boolean.TRUE.equals(e.accepting())) {
                sampled.computeIfAbsent(e.epoch(), k -> new TreeSet<>()).add(e.replica());
            }
        }
        sampled.forEach((epoch, leaders) -> {
            if (leaders.size() > 1) {
                out.add(new Violation(Property.TWO_LEADERS, "epoch " + epoch + ": " + leaders + " each reported accepting writes"));
            }
        });
        Map<Long, Set<String>> acking = new TreeMap<>();
        for (Event[] p : pairs(history)) {
            Event done = p[1];
            // A replayed answer comes from a replica that holds the entry, not from the one that
            // accepted it: after a failover the router retries on the new leader with the same
            // request id, and the new leader confirms an entry of its predecessor's epoch.
            if ("write".equals(p[0].f()) && "ok".equals(done.type()) && done.position() != null && done.servedBy() != null
                    && !Boolean.TRUE.equals(done.replayed())) {
                acking.computeIfAbsent(pos(done.position()).epoch(), k -> new TreeSet<>()).add(done.servedBy());
            }
        }
        acking.forEach((epoch, leaders) -> {
            if (leaders.size() > 1) {
                out.add(new Violation(Property.TWO_LEADERS, "epoch " + epoch + ": writes were acknowledged by " + leaders));
            }
        });
    }

    private static void checkConvergence(Map<String, ReplicaFinal> replicas, List<Violation> out) {
        Map<String, ReplicaFinal> answered = new LinkedHashMap<>();
        replicas.forEach((id, r) -> {
            if (r.answered()) {
                answered.put(id, r);
            } else {
                out.add(new Violation(Property.DIVERGENCE, id + " did not report a digest after quiescence"));
            }
        });
        Set<String> states = new TreeSet<>();
        answered.forEach((id, r) -> states.add(r.digestLsn() + "/" + r.digest()));
        if (states.size() > 1) {
            StringBuilder sb = new StringBuilder("replicas differ after quiescence:");
            answered.forEach((id, r) -> sb.append(' ').append(id).append("@lsn ").append(r.digestLsn()).append('=')
                    .append(r.digest() == null || r.digest().length() < 12 ? r.digest() : r.digest().substring(0, 12)));
            out.add(new Violation(Property.DIVERGENCE, sb.toString()));
        }
    }

    private static void checkRollbacks(Input in, List<Acked> acked, List<Violation> out) {
        Set<String> rollbackKeys = new HashSet<>();
        in.replicas().forEach((id, r) -> {
            if (r.rollbackKeys() != null) {
                rollbackKeys.addAll(r.rollbackKeys());
            }
            if (r.answered() && r.rolledBackEntries() > r.rollbackFileEntries()) {
                out.add(new Violation(Property.UNTRACED_ROLLBACK, id + " rolled back " + r.rolledBackEntries()
                        + " entries but its rollback files hold " + r.rollbackFileEntries()));
            }
        });
        if (!in.finalStateComplete()) {
            return;
        }
        // A write acknowledged only by the leader may be lost in a failover, but never silently.
        Map<String, List<Acked>> byKey = new HashMap<>();
        for (Acked a : acked) {
            byKey.computeIfAbsent(a.key(), k -> new ArrayList<>()).add(a);
        }
        int reported = 0;
        for (Acked a : acked) {
            if (DURABLE_CONCERNS.contains(a.concern())) {
                continue;
            }
            FinalValue f = in.finalState().get(a.key());
            boolean survived = f != null && (compare(pos(f.version()), a.position()) > 0
                    || (compare(pos(f.version()), a.position()) == 0 && a.value().equals(f.value())));
            if (!survived && !rollbackKeys.contains(a.key()) && reported++ < 20) {
                out.add(new Violation(Property.UNTRACED_ROLLBACK, "write of " + a.key() + " acknowledged with " + a.concern() + " at "
                        + a.position() + " is gone and is in no rollback file"));
            }
        }
    }

    /** Orders positions; an unknown position (null) sorts first, so it never proves anything is newer. */
    static int compare(LogPosition a, LogPosition b) {
        if (a == null || b == null) {
            return a == b ? 0 : a == null ? -1 : 1;
        }
        return a.compareTo(b);
    }

    static LogPosition pos(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            return LogPosition.parse(text.trim().replace("\"", ""));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String ms(double t) {
        return String.format(java.util.Locale.ROOT, "%.0fms", t);
    }

    /** The immutable set of property labels, for reports. */
    public static List<String> propertyLabels() {
        List<String> l = new ArrayList<>();
        for (Property p : Property.values()) {
            l.add(p.label);
        }
        return Collections.unmodifiableList(l);
    }
}
