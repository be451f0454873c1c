package dev.tandem.cli.local;

import dev.tandem.cli.client.ReplicaClient;
import dev.tandem.cli.local.ClusterDescription.Service;
import dev.tandem.proto.FollowerStatus;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.StatusResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** What {@code bin/tandem local status} shows: one row per process, with replica positions and lag. */
public final class StatusView {

    private StatusView() {}

    /** One process. Replica fields are null when the replica did not answer. */
    public record Row(String name, String kind, String address, long pid, String process, String role, Long epoch,
                      String last, Long receivedLsn, Long flushedLsn, Long appliedLsn, Long lagEntries, Long stalenessMs,
                      Boolean acceptingWrites, Boolean streaming, Long rolledBackEntries, Integer restarts, String health) {}

    public static List<Row> collect(LocalCluster cluster) {
        ClusterDescription d = cluster.description();
        List<Row> rows = new ArrayList<>();
        for (Service s : d.services()) {
            Optional<ProcessHandle> p = Pids.find(s.pid(), Pids.portMarker(s.port()));
            String process = p.isEmpty() ? (s.desired() == ClusterDescription.Desired.stopped ? "stopped" : "down")
                    : Pids.isPaused(s.pid()) ? "paused" : "running";
            if (s.kind() != ClusterDescription.Kind.replica) {
                String health = p.isEmpty() || process.equals("paused") ? "-"
                        : cluster.httpStatus(s, "/q/health/ready") == 200 ? "ready" : "not ready";
                rows.add(new Row(s.name(), s.kind().name(), s.address(), s.pid(), process, null, null, null, null, null, null,
                        null, null, null, null, null, s.restarts(), health));
                continue;
            }
            ReplicaClient c = cluster.client(s.name());
            Optional<ReplicaInfo> info = p.isEmpty() || process.equals("paused") ? Optional.empty() : c.tryInfo(ReplicaClient.CALL_TIMEOUT_MS);
            Optional<StatusResponse> st = info.isEmpty() ? Optional.empty() : c.tryStatus(false, ReplicaClient.CALL_TIMEOUT_MS);
            if (info.isEmpty()) {
                rows.add(new Row(s.name(), "replica", s.address(), s.pid(), process, null, null, null, null, null, null, null,
                        null, null, null, null, s.restarts(), "no answer"));
                continue;
            }
            ReplicaInfo i = info.get();
            rows.add(new Row(s.name(), "replica", s.address(), s.pid(), process, role(i), i.getEpoch(),
                    i.getLast().getEpoch() + "." + i.getLast().getLsn(), i.getReceivedLsn(), i.getFlushedLsn(), i.getAppliedLsn(),
                    i.getRole() == dev.tandem.proto.Role.ROLE_LEADER ? null : i.getLagEntries(),
                    i.getRole() == dev.tandem.proto.Role.ROLE_LEADER ? null : i.getStalenessMs(),
                    i.getAcceptingWrites(), i.getStreaming(), st.map(StatusResponse::getRolledBackEntries).orElse(null),
                    s.restarts(), st.isPresent() ? "ok" : "status needs the secret"));
        }
        return rows;
    }

    static String role(ReplicaInfo i) {
        switch (i.getRole()) {
            case ROLE_LEADER: return i.getAcceptingWrites() ? "leader" : "leader (not accepting writes)";
            case ROLE_FOLLOWER: return i.getStreaming() ? "follower" : "follower (not streaming)";
            default: return "unassigned";
        }
    }

    public static String format(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        String fmt = "%-11s %-16s %-8s %-8s %-30s %6s %-12s %9s %9s %9s %10s %8s%n";
        sb.append(String.format(Locale.ROOT, fmt, "NAME", "ADDRESS", "PID", "PROCESS", "ROLE", "EPOCH", "LAST", "RECEIVED",
                "FLUSHED", "APPLIED", "LAG", "RESTARTS"));
        for (Row r : rows) {
            String lag = r.lagEntries() == null ? "-" : r.lagEntries() + (r.stalenessMs() == null ? "" : "/" + r.stalenessMs() + "ms");
            sb.append(String.format(Locale.ROOT, fmt, r.name(), r.address(), r.pid() > 0 ? Long.toString(r.pid()) : "-", r.process(),
                    r.role() != null ? r.role() : r.health(), dash(r.epoch()), r.last() == null ? "-" : r.last(),
                    dash(r.receivedLsn()), dash(r.flushedLsn()), dash(r.appliedLsn()), lag, dash(r.restarts())));
        }
        return sb.toString();
    }

    private static String dash(Object o) {
        return o == null ? "-" : o.toString();
    }

    /** A leader's view of its followers, for the detail under the table. */
    public static String followers(StatusResponse leader) {
        StringBuilder sb = new StringBuilder();
        for (FollowerStatus f : leader.getFollowersList()) {
            sb.append(String.format(Locale.ROOT, "  %s: flushed %d, applied %d, lag %d entries / %.3f s, heard %d ms ago%s%n",
                    f.getFollowerId(), f.getFlushedLsn(), f.getAppliedLsn(), f.getLagEntries(), f.getLagSeconds(),
                    f.getLastHeardMsAgo(), f.getStreaming() ? "" : " (not streaming)"));
        }
        return sb.toString();
    }
}
