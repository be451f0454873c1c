package dev.tandem.controller.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.leadership.LockFileLeadership;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.HistoryEntry;
import dev.tandem.controller.platform.LocalReplicaPlatform;
import dev.tandem.controller.state.CasConflictException;
import dev.tandem.controller.state.ClusterStateStore;
import dev.tandem.controller.state.FileClusterStateStore;
import dev.tandem.controller.state.StoredState;
import dev.tandem.proto.Role;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The controller's driver end to end against the file store, the local platform and in-memory
 * replicas that obey the admin contract (the *IT tests repeat the important ones with real
 * replica processes).
 */
class ControllerLoopTest {

    Path dir;
    ReplicaModels replicas;
    LocalReplicaPlatform platform;
    SimpleMeterRegistry registry;
    final List<ControllerLoop> loops = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(Path.of("target", "tmp"));
        dir = Files.createTempDirectory(Path.of("target", "tmp"), "loop");
        replicas = new ReplicaModels(3);
        platform = new LocalReplicaPlatform(replicas.members());
        registry = new SimpleMeterRegistry();
    }

    @AfterEach
    void tearDown() {
        loops.forEach(ControllerLoop::close);
    }

    ControllerLoop controller(ClusterStateStore store, Duration catchUp) {
        return controller(store, catchUp, 2000);
    }

    ControllerLoop controller(ClusterStateStore store, Duration catchUp, long leaderSeenMaxWaitMs) {
        ControllerSettings s = TestSettings.settings(replicas.members(), dir.resolve("state.json"), ControllerSettings.Backend.FILE,
                null, catchUp, leaderSeenMaxWaitMs);
        LockFileLeadership leadership = new LockFileLeadership(dir.resolve("state.json.lock"), "c" + loops.size());
        ControllerLoop loop = new ControllerLoop(s, store, platform, replicas, leadership, new ControllerMetrics(registry),
                Clock.systemUTC());
        leadership.start();
        loops.add(loop);
        return loop;
    }

    ControllerLoop controller() {
        return controller(new FileClusterStateStore(dir.resolve("state.json")), Duration.ofSeconds(5));
    }

    ClusterState state() {
        return new FileClusterStateStore(dir.resolve("state.json")).read().orElseThrow().state();
    }

    static void rounds(ControllerLoop loop, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            loop.runRound();
        }
    }

    void assertSettled(String leader, long epoch) {
        ClusterState s = state();
        assertEquals(epoch, s.epoch(), "epoch");
        assertEquals(leader, s.leader(), "leader");
        assertNull(s.inProgress(), "no transition left in progress");
        assertEquals(1, replicas.leadersIn(epoch), "exactly one leader in epoch " + epoch);
        assertEquals(Role.ROLE_LEADER, replicas.get(leader).role);
        for (ReplicaModels.Model m : replicas.replicas.values()) {
            if (m.up && !m.id.equals(leader)) {
                assertEquals(Role.ROLE_FOLLOWER, m.role, m.id + " follows");
                assertEquals(leader, m.leader, m.id + " follows the leader");
                assertEquals(epoch, m.epoch, m.id + " is in the epoch");
            }
        }
        assertEquals("leader", platform.roles().get(leader));
    }

    @Test
    void bootstrapsALeaderInEpochOneAndPointsTheOthersAtIt() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        assertSettled("r1", 1);
        HistoryEntry h = state().history().get(0);
        assertEquals("done", h.outcome());
        assertEquals("promote r1 1 " + h.id(), replicas.log.get(0), "promote first: followers need a leader");
        assertEquals(List.of("follow r2 r1 1 " + h.id(), "follow r3 r1 1 " + h.id()),
                replicas.log.subList(1, replicas.log.size()).stream().sorted().toList());
    }

    @Test
    void promotesTheMostAdvancedFollowerWhenTheLeaderDies() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        replicas.write(10);
        replicas.get("r2").up = false;      // r2 misses the next writes...
        replicas.write(5);
        replicas.get("r2").up = true;       // ...and is back, behind r3
        replicas.get("r2").catchUpPerProbe = 0;
        replicas.crash("r1");
        rounds(c, 2);
        assertEquals(1, state().epoch(), "two failed probes are not yet a failure");
        rounds(c, 1);
        assertSettled("r3", 2);
        assertEquals(15, replicas.get("r3").flushedLsn);
        HistoryEntry h = state().history().get(1);
        assertEquals("probe_failed", h.reason());
        assertEquals("r1", h.from());
        assertEquals(1.0, registry.get("tandem.controller.failovers").tag("reason", "probe_failed").counter().count());
        assertEquals(1, registry.get("tandem.controller.failover.duration").timer().count());
    }

    @Test
    void aRestartedOldLeaderRejoinsAsFollower() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        replicas.crash("r1");
        rounds(c, 3);
        assertSettled("r2", 2);
        replicas.restart("r1");
        assertEquals(Role.ROLE_UNASSIGNED, replicas.get("r1").role);
        rounds(c, 1);
        assertSettled("r2", 2);
        assertEquals(Role.ROLE_FOLLOWER, replicas.get("r1").role);
    }

    /** A store that "kills the controller" (throws) instead of doing its n-th write. */
    static final class DyingStore implements ClusterStateStore {
        final ClusterStateStore inner;
        int writesLeft;

        DyingStore(ClusterStateStore inner, int writesBeforeDeath) {
            this.inner = inner;
            this.writesLeft = writesBeforeDeath;
        }

        @Override
        public Optional<StoredState> read() {
            return inner.read();
        }

        @Override
        public StoredState compareAndSet(String expectedVersion, ClusterState next) throws CasConflictException {
            if (writesLeft-- <= 0) {
                throw new IllegalStateException("controller killed before this write");
            }
            return inner.compareAndSet(expectedVersion, next);
        }

        @Override
        public String describe() {
            return "dying " + inner.describe();
        }
    }

    @ParameterizedTest(name = "controller dies after {0} state writes of the failover")
    @ValueSource(ints = {1, 2, 3})
    void aNewControllerFinishesAFailoverItsPredecessorLeftHalfDone(int writesBeforeDeath) throws Exception {
        ControllerLoop first = controller();
        rounds(first, 2);
        replicas.write(7);
        replicas.crash("r1");
        // The dying controller gets the same view and starts the failover, then dies mid-way.
        DyingStore dying = new DyingStore(new FileClusterStateStore(dir.resolve("state.json")), writesBeforeDeath);
        first.close();
        loops.remove(first);
        ControllerLoop doomed = controller(dying, Duration.ofSeconds(5));
        rounds(doomed, 2);
        ExecutionException death = assertThrows(ExecutionException.class, doomed::runRound);
        assertTrue(death.getCause().getMessage().contains("killed"), String.valueOf(death.getCause()));
        ClusterState half = state();
        assertFalse(half.inProgress() == null, "the failover was left in progress");
        String id = half.inProgress().id();
        doomed.close();
        loops.remove(doomed);

        ControllerLoop successor = controller();
        rounds(successor, 4);
        assertSettled("r2", 2);
        HistoryEntry h = state().history().get(state().history().size() - 1);
        assertEquals(id, h.id(), "the successor finished the same failover, in the same epoch");
        assertEquals("done", h.outcome());
        long promotions = replicas.log.stream().filter(l -> l.startsWith("promote") && l.endsWith(id)).map(l -> l.split(" ")[1])
                .distinct().count();
        assertEquals(1, promotions, "one replica promoted in epoch 2, however often the step was repeated: " + replicas.log);
    }

    @Test
    void switchoverWaitsForTheCandidateToCatchUpThenPromotesItWithNothingLost() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        replicas.write(10);
        replicas.get("r2").catchUpPerProbe = 0;  // r2 falls behind...
        replicas.write(20);
        replicas.get("r2").catchUpPerProbe = 3;  // ...and catches up 3 entries per probe
        assertTrue(replicas.get("r2").flushedLsn < 30);
        SwitchoverResult r = c.switchover("r2", 10_000);
        assertEquals(200, r.status(), r.toString());
        assertSettled("r2", 2);
        assertEquals(30, replicas.get("r2").flushedLsn, "the new leader has every entry of the old one");
        int stepDown = replicas.log.indexOf(replicas.log.stream().filter(l -> l.startsWith("stepdown r1")).findFirst().orElseThrow());
        int promote = replicas.log.indexOf(replicas.log.stream().filter(l -> l.startsWith("promote r2 2")).findFirst().orElseThrow());
        assertTrue(stepDown < promote, "stepped down before promoting: " + replicas.log);
        assertEquals(1.0, registry.get("tandem.controller.switchovers").tag("reason", "requested").counter().count());
    }

    @Test
    void switchoverFallsBackToTheOldLeaderWhenTheCandidateCannotCatchUp() throws Exception {
        ControllerLoop c = controller(new FileClusterStateStore(dir.resolve("state.json")), Duration.ofMillis(300));
        rounds(c, 2);
        replicas.get("r2").catchUpPerProbe = 0;
        replicas.write(10);
        SwitchoverResult r = c.switchover("r2", 10_000);
        assertEquals(409, r.status(), r.toString());
        assertEquals("fallback", r.outcome());
        // Epoch 2 was recorded for r2; r1 is deposed in it and re-promoted in 3 (a real replica
        // never takes a promotion while leading, nor to an epoch it has seen).
        assertSettled("r1", 3);
    }

    @Test
    void switchoverIsRefusedForAReplicaThatIsNotFollowing() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        replicas.crash("r3");
        rounds(c, 1);
        SwitchoverResult r = c.switchover("r3", 10_000);
        assertEquals(409, r.status());
        assertEquals(1, state().epoch(), "a refused switchover burns no epoch");
    }

    @Test
    void aBlockedDecisionIsReportedOncePerEpisode() throws Exception {
        ControllerLoop c = controller();
        rounds(c, 2);
        replicas.crash("r1");
        replicas.crash("r2");
        rounds(c, 6);
        assertEquals(1, state().epoch(), "no unsafe promotion of r3 alone");
        assertEquals(1.0, registry.get("tandem.controller.blocked.decisions").tag("reason", "no_safe_candidate").counter().count());
        replicas.restart("r2");
        rounds(c, 1);
        assertSettled("r2", 2);
    }

    @Test
    void aStandbyControllerNeitherWritesNorCommandsUntilItHoldsTheLock() throws Exception {
        ControllerLoop active = controller();
        ControllerLoop standby = controller();
        rounds(standby, 3);
        assertTrue(replicas.log.isEmpty(), "the standby sent " + replicas.log);
        assertFalse(Files.exists(dir.resolve("state.json")));
        rounds(active, 2);
        assertSettled("r1", 1);
        active.close();
        loops.remove(active);
        replicas.crash("r1");
        long deadline = System.currentTimeMillis() + 5_000;
        while (state().epoch() == 1 && System.currentTimeMillis() < deadline) {
            standby.runRound();
            Thread.sleep(50);
        }
        assertSettled("r2", 2);
        assertEquals(Map.of("r1", "follower", "r2", "leader", "r3", "follower"), platform.roles());
    }

    // ---- cut-off: a live old leader the controller cannot reach ---------------------------------

    /**
     * r1 leads epoch 1 and stays alive, shipping to its followers, but the controller can no
     * longer reach it (and does not wait on the followers' evidence). From the first command of
     * the failover on, it appends 5 entries before every controller call and gets them
     * acknowledged with {@code one} by whichever follower still follows it in epoch 1.
     * {@code laggard} takes none of them (a slow link), so at the probe r2 and r3 tie and r2 is
     * chosen.
     */
    private void liveOldLeaderBehindAPartition(String laggard) throws Exception {
        replicas.write(10);
        replicas.get("r1").controllerReachable = false;
        if (!laggard.equals("none")) {
            replicas.get(laggard).catchUpPerProbe = 0;
        }
        boolean[] armed = {false};
        replicas.beforeCall = (call, id) -> {
            armed[0] |= !call.equals("status");
            if (armed[0]) {
                replicas.leaderShips("r1", 5);
            }
        };
    }

    private void assertHoldsEveryAcknowledgedWrite(String leader) {
        ReplicaModels.Model l = replicas.get(leader);
        assertFalse(replicas.acked.isEmpty(), "the scenario acknowledged writes during the failover");
        for (var p : List.copyOf(replicas.acked)) {
            assertTrue(l.flushedLsn >= p.lsn(), leader + " (flushed " + l.flushedLsn + ") lacks acknowledged write " + p
                    + "; acked: " + replicas.acked + "; log: " + replicas.log);
        }
    }

    @ParameterizedTest(name = "laggard {0}: {1} leads epoch {2}")
    @CsvSource({
            // r3 keeps taking acked writes from r1 until it is told to follow epoch 2: retarget to r3, in epoch 3
            "r2, r3, 3",
            // r2 (the candidate) takes every acked write: nothing to retarget
            "r3, r2, 2",
            // both take them until fenced; the candidate keeps taking them afterwards: still r2
            "none, r2, 2",
    })
    void aLiveOldLeaderCutOffFromTheControllerLosesNoAcknowledgedWrite(String laggard, String leader, long epoch) throws Exception {
        ControllerLoop c = controller(new FileClusterStateStore(dir.resolve("state.json")), Duration.ofSeconds(5), 0);
        rounds(c, 2);
        liveOldLeaderBehindAPartition(laggard);
        rounds(c, 3);
        ClusterState s = state();
        assertNull(s.inProgress(), "failover finished: " + replicas.log);
        assertEquals(leader, s.leader(), replicas.log.toString());
        assertEquals(epoch, s.epoch());
        assertEquals(Role.ROLE_LEADER, replicas.get(leader).role);
        assertEquals(1, replicas.leadersIn(epoch));
        assertHoldsEveryAcknowledgedWrite(leader);
        // the old leader comes back into reach: it is told to follow, and the cluster settles
        replicas.beforeCall = (call, id) -> {};
        replicas.get("r1").controllerReachable = true;
        replicas.get("r2").catchUpPerProbe = Long.MAX_VALUE;
        replicas.get("r3").catchUpPerProbe = Long.MAX_VALUE;
        rounds(c, 1);
        assertSettled(leader, epoch);
    }

    @ParameterizedTest(name = "controller dies after {0} state writes of a retargeted failover")
    @ValueSource(ints = {1, 2, 3, 4})
    void aSuccessorFinishesARetargetedFailoverWithNothingLost(int writesBeforeDeath) throws Exception {
        ControllerLoop first = controller(new FileClusterStateStore(dir.resolve("state.json")), Duration.ofSeconds(5), 0);
        rounds(first, 2);
        first.close();
        loops.remove(first);
        liveOldLeaderBehindAPartition("r2");
        DyingStore dying = new DyingStore(new FileClusterStateStore(dir.resolve("state.json")), writesBeforeDeath);
        ControllerLoop doomed = controller(dying, Duration.ofSeconds(5), 0);
        rounds(doomed, 2);
        ExecutionException death = assertThrows(ExecutionException.class, doomed::runRound);
        assertTrue(death.getCause().getMessage().contains("killed"), String.valueOf(death.getCause()));
        assertFalse(state().inProgress() == null, "the failover was left in progress");
        String id = state().inProgress().id();
        doomed.close();
        loops.remove(doomed);

        ControllerLoop successor = controller(new FileClusterStateStore(dir.resolve("state.json")), Duration.ofSeconds(5), 0);
        rounds(successor, 3);
        ClusterState s = state();
        assertNull(s.inProgress(), replicas.log.toString());
        assertEquals("r3", s.leader(), replicas.log.toString());
        assertEquals(3, s.epoch());
        assertEquals(id, s.history().get(s.history().size() - 1).id(), "the successor finished the same failover");
        assertHoldsEveryAcknowledgedWrite("r3");
        for (long e = 2; e <= 3; e++) {
            long epochOf = e;
            long promoted = replicas.log.stream().filter(l -> l.startsWith("promote ") && l.split(" ")[2].equals(String.valueOf(epochOf)))
                    .map(l -> l.split(" ")[1]).distinct().count();
            assertTrue(promoted <= 1, "at most one replica promoted in epoch " + e + ": " + replicas.log);
        }
    }
}
