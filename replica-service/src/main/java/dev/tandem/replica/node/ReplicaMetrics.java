package dev.tandem.replica.node;

import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.WriteConcern;
import dev.tandem.replica.core.CoreStatus;
import dev.tandem.replica.core.Role;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The replica's Prometheus metrics, named exactly as docs/conventions.md lists them. Gauges read
 * the driver's last published {@link NodeView}; counters and timers are updated by the driver.
 */
public final class ReplicaMetrics {

    private final MeterRegistry registry;
    private final Supplier<NodeView> view;
    private final Counter rollbackEntries;
    private final Counter snapshotsSent;
    private final Counter snapshotsInstalled;
    private final DistributionSummary groupCommitEntries;
    private final Timer fsync;
    private final Map<String, Timer> concernWait = new ConcurrentHashMap<>();
    private final Map<String, Counter> writes = new ConcurrentHashMap<>();
    private final Set<String> followerGauges = ConcurrentHashMap.newKeySet();
    private final Map<ChangeFeed.EndReason, Counter> changeStreamsEnded = new java.util.EnumMap<>(ChangeFeed.EndReason.class);

    public ReplicaMetrics(MeterRegistry registry, Supplier<NodeView> view, ChangeFeed changeFeed) {
        this.registry = registry;
        this.view = view;
        Gauge.builder("tandem_replica_change_streams", changeFeed, ChangeFeed::subscribers)
                .description("Change streams (routers' read caches) this replica serves").register(registry);
        for (ChangeFeed.EndReason r : ChangeFeed.EndReason.values()) {
            changeStreamsEnded.put(r, Counter.builder("tandem_replica_change_streams_ended_total")
                    .tag("reason", r.name().toLowerCase(Locale.ROOT))
                    .description("Change streams ended, by reason: reset (truncation or snapshot), behind, cancelled, too_many, shutdown")
                    .register(registry));
        }
        Gauge.builder("tandem_replica_epoch", () -> v().status().epoch())
                .description("Highest epoch this replica has seen (persisted)").register(registry);
        Gauge.builder("tandem_replica_is_leader", () -> v().status().role() == Role.LEADER && v().status().acceptingWrites() ? 1 : 0)
                .description("1 when this replica is the leader and accepts writes").register(registry);
        for (Role r : Role.values()) {
            Gauge.builder("tandem_replica_role", () -> v().status().role() == r ? 1 : 0)
                    .tag("role", r.name().toLowerCase(Locale.ROOT))
                    .description("1 for the replica's current role").register(registry);
        }
        Gauge.builder("tandem_replica_received_lsn", () -> v().receivedLsn())
                .description("Last lsn received (follower: from the leader; leader: assigned)").register(registry);
        Gauge.builder("tandem_replica_flushed_lsn", () -> v().flushedLsn())
                .description("Last lsn durable (fsynced) on this replica").register(registry);
        Gauge.builder("tandem_replica_applied_lsn", () -> v().appliedLsn())
                .description("Last lsn applied to the key-value state").register(registry);
        Gauge.builder("tandem_replica_lag_seconds", () -> v().status().role() == Role.FOLLOWER ? v().status().stalenessMs() / 1000.0 : 0)
                .description("Follower: how stale its state is compared to the leader, in seconds").register(registry);
        Gauge.builder("tandem_replica_lease_valid", () -> v().status().role() == Role.LEADER && v().status().acceptingWrites() ? 1 : 0)
                .description("1 while the leader holds its lease (enough followers heard from)").register(registry);
        rollbackEntries = Counter.builder("tandem_replica_rollback_entries_total")
                .description("Log entries truncated after a failover and written to a rollback file").register(registry);
        snapshotsSent = Counter.builder("tandem_replica_snapshots_sent_total")
                .description("Snapshots (RocksDB checkpoints) sent to followers behind the retained log").register(registry);
        snapshotsInstalled = Counter.builder("tandem_replica_snapshots_installed_total")
                .description("Snapshots installed from the leader").register(registry);
        groupCommitEntries = DistributionSummary.builder("tandem_replica_group_commit_entries")
                .description("Log entries written per fsync (group commit batch size)").register(registry);
        fsync = Timer.builder("tandem_replica_fsync_seconds").description("Time of one synced RocksDB write batch")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(50_000))
                .maximumExpectedValue(Duration.ofSeconds(5)).register(registry);
    }

    private NodeView v() {
        return view.get();
    }

    public void followerSeen(String followerId) {
        if (!followerGauges.add(followerId)) {
            return;
        }
        Gauge.builder("tandem_replica_follower_lag_entries", () -> follower(followerId).map(CoreStatus.FollowerProgress::lagEntries).orElse(0L))
                .tag("follower", followerId).description("Leader: entries the follower has not flushed").register(registry);
        Gauge.builder("tandem_replica_follower_lag_seconds", () -> follower(followerId).map(f -> f.lagMs() / 1000.0).orElse(0.0))
                .tag("follower", followerId).description("Leader: how far behind the follower is, in seconds").register(registry);
    }

    private java.util.Optional<CoreStatus.FollowerProgress> follower(String id) {
        NodeView nv = v();
        if (nv.status().role() != Role.LEADER) {
            return java.util.Optional.empty();
        }
        return nv.status().followers().stream().filter(f -> f.followerId().equals(id)).findFirst();
    }

    public void rolledBack(int entries) {
        rollbackEntries.increment(entries);
    }

    public void snapshotSent() {
        snapshotsSent.increment();
    }

    public void snapshotInstalled() {
        snapshotsInstalled.increment();
    }

    public void groupCommit(int entries, long fsyncNanos) {
        if (entries > 0) {
            groupCommitEntries.record(entries);
        }
        fsync.record(Duration.ofNanos(fsyncNanos));
    }

    /** outcome: ok, not_confirmed, rejected. */
    public void write(WriteConcern concern, String outcome, long waitNanos) {
        String c = WriteConcerns.name(concern);
        writes.computeIfAbsent(c + "/" + outcome, k -> Counter.builder("tandem_replica_writes_total")
                .tag("concern", c).tag("outcome", outcome).description("Client writes by concern and outcome")
                .register(registry)).increment();
        if (waitNanos >= 0) {
            concernWait.computeIfAbsent(c, k -> Timer.builder("tandem_replica_write_concern_wait_seconds").tag("concern", c)
                    .description("Time from receiving a write to its concern being satisfied (or timing out)")
                    .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
                    .maximumExpectedValue(Duration.ofSeconds(30)).register(registry)).record(Duration.ofNanos(waitNanos));
        }
    }

    public void changeStreamEnded(ChangeFeed.EndReason reason) {
        changeStreamsEnded.get(reason).increment();
    }

    public double meanGroupCommitEntries() {
        return groupCommitEntries.mean();
    }
}
