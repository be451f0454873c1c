package dev.tandem.controller.engine;

import dev.tandem.common.LogPosition;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.replica.CommandOutcome;
import dev.tandem.controller.replica.ReplicaAdmin;
import dev.tandem.proto.EpochStart;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import dev.tandem.proto.StatusResponse;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * In-memory replicas that obey the replica's admin contract (admin.proto, Role.java): Promote
 * needs a higher epoch (or the same one when already leading it), Follow needs an epoch at least
 * the current one, a restarted leader comes back UNASSIGNED. They stand in for replica processes
 * in the unit tier only; the *IT tests run the real replica-service. Every command is logged so
 * tests can check order and that no epoch is ever promoted twice on two replicas.
 */
final class ReplicaModels implements ReplicaAdmin {

    static final class Model {
        final String id;
        boolean up = true;
        Role role = Role.ROLE_UNASSIGNED;
        long epoch;
        String leader = "";
        LogPosition last = LogPosition.ZERO;
        long flushedLsn;
        boolean steppedDown;
        final List<EpochStart> history = new ArrayList<>();
        /**
         * False: alive (still leading, still shipping to its followers) but the controller's calls
         * to it fail, as in a partition between the controller and this replica only.
         */
        boolean controllerReachable = true;
        /** Entries the follower gains per status probe while catching up (switchover tests). */
        long catchUpPerProbe = Long.MAX_VALUE;

        Model(String id) {
            this.id = id;
        }
    }

    final Map<String, Model> replicas = new LinkedHashMap<>();
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    /** Positions a live leader acknowledged with write concern {@code one} (see {@link #leaderShips}). */
    final List<LogPosition> acked = Collections.synchronizedList(new ArrayList<>());
    /**
     * Runs at the start of every admin call (status, promote, follow, stepdown) with the call's
     * name, inside the models' lock: tests use it to let time pass between the controller's steps.
     */
    volatile java.util.function.BiConsumer<String, String> beforeCall = (call, id) -> {};

    ReplicaModels(int n) {
        for (int i = 1; i <= n; i++) {
            replicas.put("r" + i, new Model("r" + i));
        }
    }

    Model get(String id) {
        return replicas.get(id);
    }

    List<Member> members() {
        List<Member> out = new ArrayList<>();
        int port = 7001;
        for (String id : replicas.keySet()) {
            out.add(new Member(id, "127.0.0.1:" + port++));
        }
        return out;
    }

    /** The leader appends {@code n} entries; streaming followers flush them too, unless set to lag. */
    synchronized void write(int n) {
        Model l = replicas.values().stream().filter(m -> m.up && m.role == Role.ROLE_LEADER && !m.steppedDown).findFirst().orElseThrow();
        l.last = new LogPosition(l.epoch, l.last.lsn() + n);
        l.flushedLsn = l.last.lsn();
        for (Model f : replicas.values()) {
            if (f.up && f.role == Role.ROLE_FOLLOWER && f.leader.equals(l.id) && f.epoch == l.epoch
                    && f.catchUpPerProbe == Long.MAX_VALUE) {
                f.last = l.last;
                f.flushedLsn = l.flushedLsn;
            }
        }
    }

    /**
     * The live leader {@code leaderId} appends {@code n} entries and ships them to every follower
     * that still follows it in its epoch (and is not set to lag). The batch is acknowledged with
     * {@code one} when at least one follower flushed it, and then recorded in {@link #acked}. A
     * follower told to follow a newer epoch no longer takes them (FENCED by epoch), which is what
     * the controller's cut-off relies on.
     */
    synchronized void leaderShips(String leaderId, int n) {
        Model l = get(leaderId);
        if (!l.up || l.role != Role.ROLE_LEADER) {
            return;
        }
        l.last = new LogPosition(l.epoch, l.last.lsn() + n);
        l.flushedLsn = l.last.lsn();
        int copies = 1;
        for (Model f : replicas.values()) {
            if (f.up && f.role == Role.ROLE_FOLLOWER && f.leader.equals(l.id) && f.epoch == l.epoch
                    && f.catchUpPerProbe == Long.MAX_VALUE && f.flushedLsn == l.last.lsn() - n) {
                f.last = l.last;
                f.flushedLsn = l.flushedLsn;
                copies++;
            }
        }
        if (copies >= 2) {
            acked.add(l.last);
        }
    }

    /** SIGKILL and restart with the same disk: a leader comes back UNASSIGNED. */
    synchronized void crash(String id) {
        Model m = get(id);
        m.up = false;
    }

    synchronized void restart(String id) {
        Model m = get(id);
        m.up = true;
        if (m.role == Role.ROLE_LEADER) {
            m.role = Role.ROLE_UNASSIGNED;
            m.leader = "";
        }
        m.steppedDown = false;
    }

    long leadersIn(long epoch) {
        return replicas.values().stream().filter(m -> m.role == Role.ROLE_LEADER && m.epoch == epoch).count();
    }

    @Override
    public synchronized CompletableFuture<StatusResponse> status(Member replica, Duration deadline) {
        beforeCall.accept("status", replica.id());
        Model m = get(replica.id());
        if (!m.up || !m.controllerReachable) {
            return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException());
        }
        if (m.role == Role.ROLE_FOLLOWER) {
            Model l = get(m.leader);
            if (l != null && l.up && l.epoch == m.epoch && m.flushedLsn < l.flushedLsn) {
                long next = m.catchUpPerProbe == Long.MAX_VALUE ? l.flushedLsn : Math.min(l.flushedLsn, m.flushedLsn + m.catchUpPerProbe);
                if (next > m.flushedLsn) {
                    m.flushedLsn = next;
                    m.last = new LogPosition(l.epoch, next);
                }
            }
        }
        Model l = m.role == Role.ROLE_FOLLOWER ? get(m.leader) : null;
        boolean streaming = l != null && l.up && l.epoch == m.epoch;
        ReplicaInfo info = ReplicaInfo.newBuilder().setReplicaId(m.id).setRole(m.role).setEpoch(m.epoch).setLeaderId(m.leader)
                .setLast(m.last.toProto()).setFlushedLsn(m.flushedLsn).setAppliedLsn(m.flushedLsn).addAllHistory(m.history)
                .setAcceptingWrites(m.role == Role.ROLE_LEADER && !m.steppedDown).setStreaming(streaming)
                .setStalenessMs(streaming ? 0 : 10_000).build();
        return CompletableFuture.completedFuture(StatusResponse.newBuilder().setInfo(info).build());
    }

    @Override
    public synchronized CommandOutcome promote(Member replica, long epoch, List<Member> members, String failoverId, Duration deadline) {
        beforeCall.accept("promote", replica.id());
        Model m = get(replica.id());
        log.add("promote " + m.id + " " + epoch + " " + failoverId);
        if (!m.up || !m.controllerReachable) {
            return CommandOutcome.unreachable("connection refused");
        }
        if (epoch == m.epoch && m.role == Role.ROLE_LEADER) {
            return new CommandOutcome(ErrorCode.OK, "", m.last);
        }
        if (m.role == Role.ROLE_LEADER) {
            // As the real replica (ReplicaCore.promote): a leader must be told to follow first.
            log.add("promote " + m.id + " " + epoch + " " + failoverId + " REFUSED (leader)");
            return new CommandOutcome(ErrorCode.INVALID_ARGUMENT, "a leader must be told to follow first", m.last);
        }
        if (epoch <= m.epoch) {
            return new CommandOutcome(ErrorCode.FENCED, "epoch " + epoch + " <= " + m.epoch, m.last);
        }
        m.role = Role.ROLE_LEADER;
        m.epoch = epoch;
        m.leader = m.id;
        m.steppedDown = false;
        m.history.add(EpochStart.newBuilder().setEpoch(epoch).setStartLsn(m.last.lsn() + 1).setLeaderId(m.id).build());
        return new CommandOutcome(ErrorCode.OK, "", m.last);
    }

    @Override
    public synchronized CommandOutcome follow(Member replica, long epoch, Member leader, List<Member> members, String failoverId,
                                              Duration deadline) {
        beforeCall.accept("follow", replica.id());
        Model m = get(replica.id());
        log.add("follow " + m.id + " " + leader.id() + " " + epoch + " " + failoverId);
        if (!m.up || !m.controllerReachable) {
            return CommandOutcome.unreachable("connection refused");
        }
        if (epoch < m.epoch) {
            return new CommandOutcome(ErrorCode.FENCED, "epoch " + epoch + " < " + m.epoch, m.last);
        }
        m.role = Role.ROLE_FOLLOWER;
        m.epoch = epoch;
        m.leader = leader.id();
        m.steppedDown = false;
        return new CommandOutcome(ErrorCode.OK, "", m.last);
    }

    @Override
    public synchronized CommandOutcome stepDown(Member replica, long epoch, String failoverId, Duration deadline) {
        beforeCall.accept("stepdown", replica.id());
        Model m = get(replica.id());
        log.add("stepdown " + m.id + " " + failoverId);
        if (!m.up || !m.controllerReachable) {
            return CommandOutcome.unreachable("connection refused");
        }
        if (m.role != Role.ROLE_LEADER) {
            return new CommandOutcome(ErrorCode.NOT_LEADER, "not leader", m.last);
        }
        m.steppedDown = true;
        return new CommandOutcome(ErrorCode.OK, "", m.last);
    }

    @Override
    public void close() {}
}
