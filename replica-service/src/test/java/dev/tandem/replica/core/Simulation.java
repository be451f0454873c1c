package dev.tandem.replica.core;

import dev.tandem.common.LogPosition;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import dev.tandem.replica.core.SimNetwork.Envelope;
import dev.tandem.replica.core.SimNetwork.Msg;
import dev.tandem.replica.core.SimNetwork.SimEntry;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * One seeded schedule: N replicas, a faulty network, a failover controller and clients, driven
 * step by step from one {@link Random}. After every step it checks the DESIGN.md invariants;
 * at the end it heals everything, lets the cluster quiesce and compares every replica.
 * A violation throws an AssertionError naming the seed, the step and the last events.
 */
final class Simulation implements SimReplica.World {

    /** What a schedule exercised, summed up by the test to show the simulation is not idle. */
    record Result(int steps, int acknowledged, int notConfirmed, int failovers, int switchovers, int truncations,
                  int crashes, int partitions) {}

    enum WriteStatus { PENDING, OK, NOT_CONFIRMED, REFUSED, ABANDONED }

    /** A client write and what became of it. */
    static final class Write {
        final long id;
        final String key;
        final long value;
        final WriteConcern concern;
        final String replica;
        LogPosition position;
        WriteStatus status = WriteStatus.PENDING;

        Write(long id, String key, long value, WriteConcern concern, String replica) {
            this.id = id;
            this.key = key;
            this.value = value;
            this.concern = concern;
            this.replica = replica;
        }

        SimEntry entry() {
            return new SimEntry(position.epoch(), position.lsn(), id, key, value);
        }
    }

    private static final long LEASE_MS = 400;
    private static final long HEARTBEAT_MS = 50;
    /** Longer than the lease, as DESIGN.md asks of failure detection. */
    private static final long FAILURE_DETECTION_MS = 500;
    private static final long CONFIRM_TIMEOUT_MS = 800;
    private static final long MAX_STEP_MS = 15;
    private static final long QUIESCE_STEP_MS = 10;
    private static final int MAX_QUIESCE_STEPS = 3_000;
    private static final int TRACE_LINES = 60;
    private static final int KEYS = 8;

    private static final double WRITE_PROBABILITY = 0.6;
    private static final double WRITE_TO_ANY_REPLICA_PROBABILITY = 0.2;
    private static final double CRASH_PROBABILITY = 0.012;
    private static final long MIN_DOWN_MS = 50;
    private static final long MAX_DOWN_MS = 800;
    private static final double PARTITION_PROBABILITY = 0.01;
    private static final double HEAL_PROBABILITY = 0.03;
    private static final double FSYNC_PROBABILITY = 0.35;
    private static final double SWITCHOVER_PROBABILITY = 0.004;
    /** A switchover whose target does not catch up within this long becomes a failover. */
    private static final long SWITCHOVER_TIMEOUT_MS = 1_000;

    private final long seed;
    private final Random random;
    private final int size;
    private final List<String> ids = new ArrayList<>();
    private final Map<String, SimReplica> replicas = new LinkedHashMap<>();
    private final SimNetwork network;
    private final ArrayDeque<String> trace = new ArrayDeque<>();

    private long nowMs;
    private int step;
    private String phase = "faults";

    // The controller's cluster state.
    private long controllerEpoch;
    private String controllerLeader;
    private long leaderUnhealthySinceMs = -1;
    /** A failover that could not reach all but one replica may lose `one` writes of epochs up to this. */
    private long oneWritesUnsafeUpToEpoch;
    private String switchoverTarget;
    private long switchoverStartedMs;

    private final Map<Long, Write> writes = new LinkedHashMap<>();
    private final Map<Long, String> leaderOfEpoch = new HashMap<>();
    private long nextWriteId = 1;
    private long nextStreamId = 1;

    private int acknowledged;
    private int notConfirmed;
    private int failovers;
    private int switchovers;
    private int truncations;
    private int crashes;
    private int partitions;

    Simulation(long seed) {
        this.seed = seed;
        this.random = new Random(seed);
        this.size = seed % 4 == 0 ? 5 : 3;
        this.network = new SimNetwork(random);
        WriteConcern[] minimums = {WriteConcern.WRITE_CONCERN_ONE, WriteConcern.WRITE_CONCERN_MAJORITY,
                WriteConcern.WRITE_CONCERN_LEADER};
        CoreConfig config = new CoreConfig(LEASE_MS, HEARTBEAT_MS, minimums[(int) (seed % minimums.length)],
                2_000, 100_000);
        for (int i = 1; i <= size; i++) {
            String id = "r" + i;
            ids.add(id);
            replicas.put(id, new SimReplica(id, config, this));
        }
    }

    Result run(int steps) {
        trace("seed " + seed + ": " + size + " replicas");
        controllerEpoch = 1;
        controllerLeader = ids.get(0);
        replicas.get(controllerLeader).promote(1, ids);
        for (String id : ids.subList(1, size)) {
            replicas.get(id).follow(1, controllerLeader, ids);
        }
        for (step = 1; step <= steps; step++) {
            nowMs += 1 + random.nextInt((int) MAX_STEP_MS);
            injectFaultsAndWrites();
            advance(FSYNC_PROBABILITY);
            checkInvariants();
        }
        quiesce();
        return new Result(steps, acknowledged, notConfirmed, failovers, switchovers, truncations, crashes, partitions);
    }

    // ---- events --------------------------------------------------------------------------------

    private void injectFaultsAndWrites() {
        if (random.nextDouble() < WRITE_PROBABILITY) {
            clientWrite();
        }
        if (random.nextDouble() < CRASH_PROBABILITY) {
            List<SimReplica> upReplicas = replicas.values().stream().filter(r -> r.up).toList();
            if (!upReplicas.isEmpty()) {
                crash(upReplicas.get(random.nextInt(upReplicas.size())));
            }
        }
        if (switchoverTarget == null && random.nextDouble() < SWITCHOVER_PROBABILITY) {
            startSwitchover();
        }
        if (network.isolated().isEmpty() && random.nextDouble() < PARTITION_PROBABILITY) {
            int minority = 1 + random.nextInt((size - 1) / 2);
            List<String> shuffled = new ArrayList<>(ids);
            Collections.shuffle(shuffled, random);
            Set<String> side = new TreeSet<>(shuffled.subList(0, minority));
            network.isolate(side);
            partitions++;
            trace("partition: " + side + " cut off from the rest and the controller");
        } else if (!network.isolated().isEmpty() && random.nextDouble() < HEAL_PROBABILITY) {
            network.heal();
            trace("partition healed");
        }
    }

    private void clientWrite() {
        String target = controllerLeader;
        boolean anywhere = random.nextDouble() < WRITE_TO_ANY_REPLICA_PROBABILITY;
        if (anywhere) {
            target = ids.get(random.nextInt(size));
        }
        SimReplica replica = replicas.get(target);
        if (!replica.up || (!anywhere && network.isolatedFromController(target))) {
            return;
        }
        WriteConcern[] concerns = {WriteConcern.WRITE_CONCERN_LEADER, WriteConcern.WRITE_CONCERN_ONE,
                WriteConcern.WRITE_CONCERN_MAJORITY, WriteConcern.WRITE_CONCERN_ALL};
        WriteConcern concern = concerns[random.nextInt(concerns.length)];
        Write w = new Write(nextWriteId++, "k" + random.nextInt(KEYS), random.nextInt(1_000_000), concern, target);
        writes.put(w.id, w);
        ErrorCode admitted = replica.write(w.id, w.key, w.value, concern, nowMs + CONFIRM_TIMEOUT_MS);
        if (admitted != ErrorCode.OK) {
            w.status = WriteStatus.REFUSED;
            return;
        }
        w.position = replica.core.last();
    }

    private void crash(SimReplica replica) {
        long downMs = MIN_DOWN_MS + random.nextInt((int) (MAX_DOWN_MS - MIN_DOWN_MS));
        replica.crash(nowMs + downMs);
        crashes++;
        for (Write w : writes.values()) {
            if (w.status == WriteStatus.PENDING && w.replica.equals(replica.id)) {
                // The client sees its connection fail; the write may or may not survive.
                w.status = WriteStatus.ABANDONED;
            }
        }
        trace(replica.id + " crashed (back in " + downMs + " ms)");
    }

    /** Planned: the leader stops admitting writes, a follower catches up, then it is promoted. */
    private void startSwitchover() {
        SimReplica leader = replicas.get(controllerLeader);
        List<SimReplica> targets = replicas.values().stream()
                .filter(r -> reachable(r) && !r.id.equals(controllerLeader)).toList();
        if (!reachable(leader) || leader.core.role() != Role.LEADER || targets.isEmpty()) {
            return;
        }
        if (!leader.stepDown(controllerEpoch).ok()) {
            return;
        }
        switchoverTarget = targets.get(random.nextInt(targets.size())).id;
        switchoverStartedMs = nowMs;
        trace("switchover: " + controllerLeader + " stops admitting writes, " + switchoverTarget + " to take over");
    }

    /** One step of every process: restarts, message delivery, fsyncs, driver turns, controller. */
    private void advance(double fsyncProbability) {
        for (SimReplica r : replicas.values()) {
            if (!r.up && nowMs >= r.restartAtMs) {
                r.restart();
            }
        }
        for (Envelope e : network.deliverDue(nowMs)) {
            SimReplica to = replicas.get(e.to());
            if (to.up) {
                to.receive(e);
            }
        }
        for (SimReplica r : replicas.values()) {
            if (r.up && random.nextDouble() < fsyncProbability) {
                r.fsync();
            }
        }
        for (SimReplica r : replicas.values()) {
            if (r.up) {
                r.turn();
            }
        }
        controllerStep();
    }

    // ---- the controller ------------------------------------------------------------------------

    private boolean reachable(SimReplica r) {
        return r.up && !network.isolatedFromController(r.id);
    }

    private void controllerStep() {
        // First depose any stale leader that became reachable, so a candidate is never one.
        tellOthersToFollow();
        SimReplica leader = replicas.get(controllerLeader);
        boolean healthy = reachable(leader) && leader.core.role() == Role.LEADER
                && leader.core.epoch() == controllerEpoch;
        if (switchoverTarget != null) {
            continueSwitchover(leader, healthy);
            return;
        }
        if (healthy) {
            leaderUnhealthySinceMs = -1;
        } else if (leaderUnhealthySinceMs < 0) {
            leaderUnhealthySinceMs = nowMs;
        } else if (nowMs - leaderUnhealthySinceMs >= FAILURE_DETECTION_MS) {
            failover();
        }
        tellOthersToFollow();
    }

    private void continueSwitchover(SimReplica leader, boolean healthy) {
        SimReplica target = replicas.get(switchoverTarget);
        if (healthy && reachable(target) && target.core.flushedLsn() >= leader.core.last().lsn()
                && target.core.epoch() == controllerEpoch) {
            // The target holds the old leader's whole log, so nothing acknowledged can be lost.
            switchoverTarget = null;
            long epoch = controllerEpoch + 1;
            trace("switchover: promote " + target.id + " at " + flushedPosition(target) + " to epoch " + epoch);
            target.promote(epoch, ids);
            controllerEpoch = epoch;
            controllerLeader = target.id;
            leaderUnhealthySinceMs = -1;
            switchovers++;
        } else if (!healthy || nowMs - switchoverStartedMs > SWITCHOVER_TIMEOUT_MS) {
            trace("switchover to " + switchoverTarget + " abandoned");
            switchoverTarget = null;
            // The old leader cannot resume admitting writes: replace it as after a failure.
            leaderUnhealthySinceMs = nowMs - FAILURE_DETECTION_MS;
        }
        tellOthersToFollow();
    }

    /**
     * Promote the replica that provably holds every acknowledged write: the most advanced flushed
     * (epoch, lsn) among a reachable majority. Promotion and the follow commands happen in one
     * step, so no replica of that majority acks the old leader after its position was compared.
     */
    private void failover() {
        List<SimReplica> reachable = replicas.values().stream().filter(this::reachable).toList();
        if (reachable.size() < size / 2 + 1) {
            return;
        }
        SimReplica candidate = reachable.stream()
                .max(Comparator.comparing((SimReplica r) -> flushedPosition(r)).thenComparing(r -> r.id))
                .orElseThrow();
        long epoch = controllerEpoch + 1;
        if (size - reachable.size() > 1) {
            oneWritesUnsafeUpToEpoch = controllerEpoch;
        }
        trace("failover: promote " + candidate.id + " at " + flushedPosition(candidate) + " to epoch " + epoch
                + " (reachable " + reachable.stream().map(r -> r.id).toList() + ")");
        candidate.promote(epoch, ids);
        controllerEpoch = epoch;
        controllerLeader = candidate.id;
        leaderUnhealthySinceMs = -1;
        failovers++;
    }

    private static LogPosition flushedPosition(SimReplica r) {
        return r.core.meta().history().positionOf(r.core.flushedLsn());
    }

    private void tellOthersToFollow() {
        for (SimReplica r : replicas.values()) {
            if (r.id.equals(controllerLeader) || !reachable(r)) {
                continue;
            }
            boolean following = r.core.role() == Role.FOLLOWER && r.core.epoch() == controllerEpoch
                    && r.core.meta().leaderId().equals(controllerLeader);
            if (!following) {
                trace(r.id + " (" + r.core.role() + " epoch " + r.core.epoch() + ") told to follow "
                        + controllerLeader + " in epoch " + controllerEpoch);
                CommandResult result = r.follow(controllerEpoch, controllerLeader, ids);
                if (!result.ok()) {
                    fail("follow refused by " + r.id + ": " + result.code() + " " + result.reason());
                }
            }
        }
    }

    // ---- World ---------------------------------------------------------------------------------

    @Override
    public long nowMs() {
        return nowMs;
    }

    @Override
    public void send(String from, String to, Msg msg) {
        network.send(nowMs, from, to, msg);
    }

    @Override
    public long newStreamId() {
        return nextStreamId++;
    }

    @Override
    public void completed(SimReplica leader, List<Completion<Long>> completions) {
        for (Completion<Long> c : completions) {
            Write w = writes.get(c.waiter());
            if (w.status != WriteStatus.PENDING) {
                fail("write " + w.id + " completed " + c.code() + " after it was already " + w.status);
            }
            if (!c.position().equals(w.position)) {
                fail("write " + w.id + " at " + w.position + " completed at " + c.position());
            }
            if (c.code() == ErrorCode.OK) {
                checkDurableCopies(leader, w);
                w.status = WriteStatus.OK;
                acknowledged++;
            } else if (c.code() == ErrorCode.NOT_CONFIRMED) {
                w.status = WriteStatus.NOT_CONFIRMED;
                notConfirmed++;
            } else {
                fail("write " + w.id + " completed with " + c.code());
            }
        }
    }

    @Override
    public void trace(String line) {
        if (line.contains("truncated")) {
            truncations++;
        }
        trace.addLast("t=" + nowMs + " step " + step + ": " + line);
        if (trace.size() > TRACE_LINES) {
            trace.removeFirst();
        }
    }

    @Override
    public void fail(String message) {
        StringBuilder sb = new StringBuilder();
        sb.append("seed ").append(seed).append(", step ").append(step).append(" (").append(phase).append(", t=")
                .append(nowMs).append(" ms): ").append(message)
                .append("\nrerun with -Dtandem.sim.seed=").append(seed).append("\nlast events:\n");
        for (String line : trace) {
            sb.append("  ").append(line).append('\n');
        }
        sb.append("replicas:\n");
        for (SimReplica r : replicas.values()) {
            sb.append("  ").append(describe(r)).append('\n');
        }
        throw new AssertionError(sb.toString());
    }

    private String describe(SimReplica r) {
        if (!r.up) {
            return r.id + " down, durable log " + r.durableLog.size() + " " + r.durableMeta;
        }
        return r.id + " " + r.core.role() + " epoch " + r.core.epoch() + " leader " + r.core.meta().leaderId()
                + " last " + r.core.last() + " flushed " + r.core.flushedLsn() + " history " + r.core.meta().history()
                + (r.streaming() ? " streaming" : "") + (network.isolated().contains(r.id) ? " ISOLATED" : "")
                + (r.core.role() == Role.LEADER ? " followers " + r.core.status(nowMs).followers() : "");
    }

    // ---- invariants ----------------------------------------------------------------------------

    /** Acknowledged means durable on the leader and on as many replicas as the concern asks. */
    private void checkDurableCopies(SimReplica leader, Write w) {
        SimEntry entry = w.entry();
        if (!holds(leader.durableLog, entry)) {
            fail("write " + w.id + " acknowledged (" + WriteConcerns.name(w.concern) + ") but not durable on leader "
                    + leader.id);
        }
        int copies = 0;
        for (SimReplica r : replicas.values()) {
            copies += holds(r.durableLog, entry) ? 1 : 0;
        }
        int required = WriteConcerns.requiredCopies(w.concern, size);
        if (copies < required) {
            fail("write " + w.id + " at " + w.position + " acknowledged (" + WriteConcerns.name(w.concern)
                    + ") with " + copies + " durable copies, " + required + " required");
        }
    }

    private static boolean holds(List<SimEntry> log, SimEntry entry) {
        int i = (int) entry.lsn() - 1;
        return i < log.size() && log.get(i).equals(entry);
    }

    /** Whether DESIGN.md promises this acknowledged write survives the faults this schedule injects. */
    private boolean mustSurvive(Write w) {
        if (w.status != WriteStatus.OK) {
            return false;
        }
        switch (w.concern) {
            case WRITE_CONCERN_MAJORITY:
            case WRITE_CONCERN_ALL:
                return true;
            case WRITE_CONCERN_ONE:
                // Two copies are a majority of three; of five they survive only one failure.
                return size == 3 || w.position.epoch() > oneWritesUnsafeUpToEpoch;
            default:
                return false;
        }
    }

    private void checkInvariants() {
        for (SimReplica r : replicas.values()) {
            if (r.up) {
                checkDriverMatchesCore(r);
            }
        }
        checkLogMatching();
        checkOneLeaderPerEpoch();
        checkAcknowledgedWritesAreOnTheLeader();
    }

    private void checkDriverMatchesCore(SimReplica r) {
        List<SimEntry> log = r.log;
        LogPosition last = log.isEmpty() ? LogPosition.ZERO : log.get(log.size() - 1).position();
        if (!r.core.last().equals(last)) {
            fail(r.id + " core says last " + r.core.last() + ", its log ends at " + last);
        }
        if (r.core.flushedLsn() > log.size()) {
            fail(r.id + " core says flushed " + r.core.flushedLsn() + " beyond its log");
        }
        var history = r.core.meta().history();
        long previousEpoch = 0;
        for (SimEntry e : log) {
            if (history.epochOf(e.lsn()) != e.epoch()) {
                fail(r.id + " history " + history + " gives lsn " + e.lsn() + " epoch " + history.epochOf(e.lsn())
                        + ", the entry there is " + e);
            }
            if (e.epoch() < previousEpoch) {
                fail(r.id + " log goes back in epoch at " + e);
            }
            previousEpoch = e.epoch();
        }
        if (!r.state.equals(SimReplica.replay(log, r.appliedLsn))) {
            fail(r.id + " applied state differs from replaying its log up to " + r.appliedLsn);
        }
    }

    /** (b) Two logs that hold an lsn in the same epoch hold the same entry there. */
    private void checkLogMatching() {
        List<SimReplica> all = new ArrayList<>(replicas.values());
        for (int a = 0; a < all.size(); a++) {
            for (int b = a + 1; b < all.size(); b++) {
                List<SimEntry> la = all.get(a).visibleLog();
                List<SimEntry> lb = all.get(b).visibleLog();
                for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                    if (la.get(i).epoch() == lb.get(i).epoch() && !la.get(i).equals(lb.get(i))) {
                        fail("log matching: " + all.get(a).id + " holds " + la.get(i) + ", " + all.get(b).id
                                + " holds " + lb.get(i));
                    }
                }
            }
        }
    }

    /** (c) One leader per epoch, ever; at most one replica admitting writes in an epoch. */
    private void checkOneLeaderPerEpoch() {
        Map<Long, String> admitting = new HashMap<>();
        for (SimReplica r : replicas.values()) {
            if (!r.up || r.core.role() != Role.LEADER) {
                continue;
            }
            String earlier = leaderOfEpoch.putIfAbsent(r.core.epoch(), r.id);
            if (earlier != null && !earlier.equals(r.id)) {
                fail("epoch " + r.core.epoch() + " led by " + earlier + " and by " + r.id);
            }
            if (r.core.admitWrite(nowMs) == ErrorCode.OK) {
                String other = admitting.put(r.core.epoch(), r.id);
                if (other != null) {
                    fail(other + " and " + r.id + " both admit writes in epoch " + r.core.epoch());
                }
            }
        }
    }

    /** (a) The controller's leader durably holds every write it must not lose. */
    private void checkAcknowledgedWritesAreOnTheLeader() {
        SimReplica leader = replicas.get(controllerLeader);
        for (Write w : writes.values()) {
            if (mustSurvive(w) && !holds(leader.durableLog, w.entry())) {
                fail("acknowledged write " + w.id + " (" + WriteConcerns.name(w.concern) + " at " + w.position
                        + ") is not in the log of leader " + leader.id);
            }
        }
    }

    // ---- the end -------------------------------------------------------------------------------

    private void quiesce() {
        phase = "quiescence";
        network.heal();
        network.calm();
        for (SimReplica r : replicas.values()) {
            r.restartAtMs = Math.min(r.restartAtMs, nowMs);
        }
        trace("healed, restarting every replica, network calm");
        for (int i = 0; i < MAX_QUIESCE_STEPS; i++, step++) {
            nowMs += QUIESCE_STEP_MS;
            advance(1.0);
            checkInvariants();
            if (converged()) {
                checkFinalState();
                return;
            }
        }
        fail("did not converge within " + MAX_QUIESCE_STEPS * QUIESCE_STEP_MS + " ms of quiet; writes still pending: "
                + writes.values().stream().filter(w -> w.status == WriteStatus.PENDING)
                        .map(w -> w.id + "@" + w.replica + ":" + w.position).toList());
    }

    private boolean converged() {
        SimReplica leader = replicas.get(controllerLeader);
        if (!leader.up || leader.core.role() != Role.LEADER || leader.core.epoch() != controllerEpoch) {
            return false;
        }
        for (SimReplica r : replicas.values()) {
            if (!r.up || !r.log.equals(leader.log) || r.core.flushedLsn() != r.log.size()
                    || !r.durableLog.equals(r.log)) {
                return false;
            }
        }
        return writes.values().stream().noneMatch(w -> w.status == WriteStatus.PENDING);
    }

    /** (2) identical data everywhere, (1) nothing acknowledged lost, (5) nothing dropped untraced. */
    private void checkFinalState() {
        SimReplica leader = replicas.get(controllerLeader);
        String digest = digest(leader.state);
        for (SimReplica r : replicas.values()) {
            if (!digest(r.state).equals(digest) || r.appliedLsn != leader.appliedLsn) {
                fail(r.id + " state digest " + digest(r.state) + " at " + r.appliedLsn + " differs from leader's "
                        + digest + " at " + leader.appliedLsn);
            }
        }
        for (Write w : writes.values()) {
            if (w.status != WriteStatus.OK) {
                continue;
            }
            boolean inLog = holds(leader.log, w.entry());
            if (mustSurvive(w) && !inLog) {
                fail("acknowledged write " + w.id + " (" + WriteConcerns.name(w.concern) + ") lost after quiescence");
            }
            if (!inLog && !replicas.get(w.replica).rollback.contains(w.entry())) {
                fail("acknowledged write " + w.id + " (" + WriteConcerns.name(w.concern) + ") vanished without a "
                        + "rollback record on " + w.replica);
            }
        }
    }

    private static String digest(Map<String, Long> state) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, Long> e : state.entrySet()) {
                sha.update((e.getKey() + "=" + e.getValue() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
