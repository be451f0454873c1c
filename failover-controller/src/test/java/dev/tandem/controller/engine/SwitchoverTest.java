package dev.tandem.controller.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.leadership.LockFileLeadership;
import dev.tandem.controller.model.ClusterState;
import dev.tandem.controller.model.Member;
import dev.tandem.controller.platform.LocalReplicaPlatform;
import dev.tandem.controller.replica.CommandOutcome;
import dev.tandem.controller.replica.ReplicaAdmin;
import dev.tandem.controller.state.FileClusterStateStore;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Role;
import dev.tandem.proto.StatusResponse;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Switchover paths against in-memory replicas held to the real replica's promotion rule
 * (replica-service Role.java / ReplicaCore.promote): a LEADER is never promoted, not even to a
 * newer epoch; it must be told to follow first. The shared {@link ReplicaModels} allows it, which
 * hid a switchover fallback that re-promoted a stepped-down leader and could never succeed on a
 * real replica (it left the old leader with writes stopped and the transition retried forever).
 */
class SwitchoverTest {

    Path dir;
    ReplicaModels replicas;
    LocalReplicaPlatform platform;
    ControllerLoop loop;

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(Path.of("target", "tmp"));
        dir = Files.createTempDirectory(Path.of("target", "tmp"), "switchover");
        replicas = new ReplicaModels(3);
        platform = new LocalReplicaPlatform(replicas.members());
    }

    @AfterEach
    void tearDown() {
        if (loop != null) {
            loop.close();
        }
    }

    ControllerLoop controller(Duration catchUp) throws Exception {
        ControllerSettings s = TestSettings.settings(replicas.members(), dir.resolve("state.json"), ControllerSettings.Backend.FILE,
                null, catchUp);
        LockFileLeadership leadership = new LockFileLeadership(dir.resolve("state.json.lock"), "c0");
        loop = new ControllerLoop(s, new FileClusterStateStore(dir.resolve("state.json")), platform,
                replicas, leadership, new ControllerMetrics(new SimpleMeterRegistry()), Clock.systemUTC());
        leadership.start();
        rounds(2);
        assertEquals("r1", state().leader(), "bootstrapped r1");
        return loop;
    }

    void rounds(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            loop.runRound();
        }
    }

    ClusterState state() {
        return new FileClusterStateStore(dir.resolve("state.json")).read().orElseThrow().state();
    }

    void assertLeads(String leader, long epoch) {
        ClusterState s = state();
        assertNull(s.inProgress(), "nothing in progress: " + s.inProgress());
        assertEquals(leader, s.leader());
        assertEquals(epoch, s.epoch());
        assertEquals(1, replicas.leadersIn(epoch), "one leader in epoch " + epoch);
        ReplicaModels.Model l = replicas.get(leader);
        assertEquals(Role.ROLE_LEADER, l.role);
        assertEquals(epoch, l.epoch);
        assertFalse(l.steppedDown, leader + " accepts writes again");
        for (ReplicaModels.Model m : replicas.replicas.values()) {
            if (m.up && !m.id.equals(leader)) {
                assertEquals(Role.ROLE_FOLLOWER, m.role, m.id);
                assertEquals(leader, m.leader, m.id);
                assertEquals(epoch, m.epoch, m.id);
            }
        }
    }

    @Test
    void aCandidateThatCannotCatchUpLeavesTheOldLeaderLeadingAgainInANewEpoch() throws Exception {
        controller(Duration.ofMillis(300));
        replicas.get("r2").catchUpPerProbe = 0; // r2 follows but receives nothing more
        replicas.write(10);
        SwitchoverResult r = loop.switchover("r2", 10_000);
        assertEquals(409, r.status(), r.toString());
        assertEquals("fallback", r.outcome());
        assertEquals("r1", r.to());
        assertTrue(r.message().contains("did not catch up to lsn 10"), r.message());
        assertLeads("r1", 3);
        assertEquals(10, replicas.get("r1").last.lsn(), "the old leader kept everything it wrote");
        List<String> cmds = replicas.log.stream().filter(l -> l.contains(r.failoverId())).toList();
        assertTrue(cmds.get(0).startsWith("stepdown r1"), cmds.toString());
        assertTrue(cmds.get(1).startsWith("follow r1 r2 2"), "deposed in the recorded epoch first: " + cmds);
        assertTrue(cmds.get(2).startsWith("promote r1 3"), "then promoted in the next: " + cmds);
        assertFalse(cmds.stream().anyMatch(c -> c.contains("REFUSED")), cmds.toString());
        assertTrue(state().history().get(state().history().size() - 1).outcome().startsWith("fallback"));
        replicas.write(1); // the old leader takes writes again
        rounds(2);
        assertLeads("r1", 3);
    }

    @Test
    void anOldLeaderThatRefusesToStepDownIsReplacedByAFailoverNotLeftHanging() throws Exception {
        controller(Duration.ofSeconds(5));
        replicas.write(5);
        // r1 answers the pre-checks, then dies as the switchover asks it to step down.
        replicas.beforeCall = (call, id) -> {
            if (call.equals("stepdown") && id.equals("r1")) {
                replicas.get("r1").up = false;
            }
        };
        SwitchoverResult r = loop.switchover("r2", 10_000);
        replicas.beforeCall = (call, id) -> {};
        assertEquals(500, r.status(), r.toString());
        assertEquals("incomplete", r.outcome());
        // The planner gives the switchover up once r1 failed its probes, then fails over.
        for (int i = 0; i < 10 && (state().inProgress() != null || replicas.leadersIn(state().epoch()) != 1
                || !state().history().get(state().history().size() - 1).outcome().equals("done")); i++) {
            rounds(1);
        }
        ClusterState s = state();
        assertTrue(s.history().stream().anyMatch(h -> h.outcome().startsWith("aborted") && h.id().equals(r.failoverId())),
                s.history().toString());
        assertTrue(s.leader().equals("r2") || s.leader().equals("r3"), s.toString());
        assertLeads(s.leader(), s.epoch());
        assertTrue(s.epoch() >= 3, "the switchover's epoch stays burned: " + s.epoch());
    }

    @Test
    void withoutATargetTheMostAdvancedFollowerIsChosen() throws Exception {
        controller(Duration.ofSeconds(5));
        replicas.write(5);
        replicas.get("r2").catchUpPerProbe = 0; // r2 (the smaller id) falls behind
        replicas.write(5);
        SwitchoverResult r = loop.switchover(null, 10_000);
        assertEquals(200, r.status(), r.toString());
        assertEquals("r3", r.to(), r.toString());
        assertTrue(r.candidates().startsWith("r3=1.10 r2=1.5"), r.candidates());
        assertLeads("r3", 2);
    }

    @Test
    void badRequestsChangeNothing() throws Exception {
        controller(Duration.ofSeconds(5));
        SwitchoverResult unknown = loop.switchover("r9", 10_000);
        assertEquals(400, unknown.status(), unknown.toString());
        assertEquals("unknown_replica", unknown.outcome());
        assertTrue(unknown.message().contains("'r9'") && unknown.message().contains("r1, r2, r3"), unknown.message());

        SwitchoverResult self = loop.switchover("r1", 10_000);
        assertEquals(409, self.status(), self.toString());
        assertTrue(self.message().contains("already leads"), self.message());

        replicas.crash("r3");
        SwitchoverResult down = loop.switchover("r3", 10_000);
        assertEquals(409, down.status(), down.toString());
        assertEquals("target_unavailable", down.outcome());
        assertTrue(down.message().contains("r3 does not answer"), down.message());

        assertLeads("r1", 1);
        assertFalse(replicas.log.stream().anyMatch(l -> l.startsWith("stepdown")), replicas.log.toString());
        replicas.write(1);
    }
}
