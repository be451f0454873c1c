package dev.tandem.cli.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.cli.chaos.HistoryChecker.FinalValue;
import dev.tandem.cli.chaos.HistoryChecker.Input;
import dev.tandem.cli.chaos.HistoryChecker.Property;
import dev.tandem.cli.chaos.HistoryChecker.ReplicaFinal;
import dev.tandem.cli.chaos.HistoryChecker.Violation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Each property of the chaos checker, shown holding on a correct history and caught on one that breaks it. */
class HistoryCheckerTest {

    /** Builds histories by hand; time advances 1 ms per event. */
    static final class H {
        final List<Event> events = new ArrayList<>();
        final Map<String, FinalValue> finalState = new HashMap<>();
        final Map<String, ReplicaFinal> replicas = new LinkedHashMap<>();
        boolean complete = true;
        double t;

        H write(String client, String key, String value, String concern, String position, String servedBy) {
            return write(client, key, value, concern, position, servedBy, false);
        }

        H write(String client, String key, String value, String concern, String position, String servedBy, boolean replayed) {
            events.add(Event.invoke(t++, client, "write", key, value, concern, null));
            events.add(Event.writeOk(t++, client, key, value, concern, position, servedBy, replayed));
            return this;
        }

        H writeUnknown(String client, String key, String value, String concern) {
            events.add(Event.invoke(t++, client, "write", key, value, concern, null));
            events.add(Event.failed(t++, client, "write", "unknown", key, concern, null, "timeout"));
            return this;
        }

        H read(String client, String key, String value, String version, String servedBy) {
            events.add(Event.invoke(t++, client, "read", key, null, null, "session"));
            events.add(Event.readOk(t++, client, key, "session", value != null, value, version, servedBy));
            return this;
        }

        H sample(String replica, String role, long epoch, boolean accepting) {
            events.add(Event.sample(t++, replica, role, epoch, accepting));
            return this;
        }

        H fin(String key, String value, String version) {
            finalState.put(key, new FinalValue(value, version));
            return this;
        }

        H replica(String id, String digest, long lsn) {
            replicas.put(id, new ReplicaFinal(true, digest, lsn, 0, 0, Set.of()));
            return this;
        }

        H replica(String id, ReplicaFinal r) {
            replicas.put(id, r);
            return this;
        }

        List<Violation> check() {
            return HistoryChecker.check(new Input(events, finalState, complete, replicas));
        }

        Set<Property> properties() {
            return check().stream().map(Violation::property).collect(Collectors.toSet());
        }
    }

    /** A healthy run: three replicas that agree, writes that survived, reads that saw them. */
    static H healthy() {
        return new H()
                .sample("r1", "leader", 1, true).sample("r2", "follower", 1, false)
                .write("c1", "k1", "v1", "one", "1.1", "r1")
                .read("c1", "k1", "v1", "1.1", "r2")
                .write("c2", "hot", "a", "one", "1.2", "r1")
                .read("c1", "hot", "a", "1.2", "r3")
                .sample("r2", "leader", 2, true)
                .write("c1", "hot", "b", "one", "2.3", "r2")
                .read("c1", "hot", "b", "2.3", "r3")
                .read("c2", "hot", "b", "2.3", "r1")
                .fin("k1", "v1", "1.1").fin("hot", "b", "2.3")
                .replica("r1", "abc", 3).replica("r2", "abc", 3).replica("r3", "abc", 3);
    }

    @Test
    void aCorrectHistoryHasNoViolations() {
        assertEquals(List.of(), healthy().check());
    }

    @Test
    void reportsAnAcknowledgedWriteMissingAfterQuiescence() {
        H h = healthy().write("c3", "k9", "v9", "one", "2.4", "r2");
        List<Violation> v = h.check();
        assertEquals(Set.of(Property.LOST_WRITE), h.properties(), v.toString());
        assertTrue(v.get(0).message().contains("k9") && v.get(0).message().contains("missing"), v.toString());
    }

    @Test
    void reportsAnAcknowledgedWriteRolledBackToAnOlderVersion() {
        H h = healthy().write("c3", "hot", "c", "majority", "2.5", "r2");
        assertEquals(Set.of(Property.LOST_WRITE), h.properties());
        assertTrue(h.check().get(0).message().contains("rolled back to version 2.3"));
    }

    @Test
    void aWriteOverwrittenByANewerWriteIsNotLost() {
        H h = healthy().write("c3", "hot", "c", "one", "2.5", "r2").writeUnknown("c3", "hot", "d", "one").fin("hot", "d", "2.6");
        assertEquals(List.of(), h.check());
    }

    @Test
    void aValueNoClientWroteIsReportedEvenAtANewerVersion() {
        H h = healthy().fin("hot", "zzz", "3.9");
        assertEquals(Set.of(Property.LOST_WRITE), h.properties());
    }

    @Test
    void writesAcknowledgedOnlyByTheLeaderMayBeLostButOnlyWithARollbackRecord() {
        H traced = healthy().write("c3", "k7", "v7", "leader", "2.4", "r2")
                .replica("r2", new ReplicaFinal(true, "abc", 3, 1, 1, Set.of("k7")));
        assertEquals(List.of(), traced.check());
        H untraced = healthy().write("c3", "k7", "v7", "leader", "2.4", "r2");
        assertEquals(Set.of(Property.UNTRACED_ROLLBACK), untraced.properties());
    }

    @Test
    void unknownOutcomesAreNeverCountedAsLost() {
        H h = healthy().writeUnknown("c3", "k8", "v8", "all");
        assertEquals(List.of(), h.check());
    }

    @Test
    void anIncompleteFinalReadCannotProveDurability() {
        H h = healthy();
        h.complete = false;
        assertEquals(Set.of(Property.LOST_WRITE), h.properties());
    }

    @Test
    void reportsAReadThatMissesTheSessionsOwnAcknowledgedWrite() {
        H notFound = healthy().write("c1", "k2", "v2", "one", "2.4", "r2").read("c1", "k2", null, null, "r3").fin("k2", "v2", "2.4");
        assertEquals(Set.of(Property.READ_YOUR_WRITES), notFound.properties());
        H older = healthy().write("c1", "hot", "c", "one", "2.4", "r2").read("c1", "hot", "b", "2.3", "r3").fin("hot", "c", "2.4");
        assertTrue(older.properties().contains(Property.READ_YOUR_WRITES), older.check().toString());
    }

    @Test
    void anotherSessionMayReadOlderDataThanSomeoneElsesWrite() {
        H h = healthy().read("c9", "hot", "a", "1.2", "r3");
        assertEquals(List.of(), h.check());
    }

    @Test
    void reportsASessionReadGoingBackInTime() {
        H back = healthy().read("c2", "hot", "a", "1.2", "r3");
        assertEquals(Set.of(Property.MONOTONIC_READS), back.properties(), back.check().toString());
        H vanished = new H().read("c5", "hot", "a", "1.2", "r2").read("c5", "hot", null, null, "r3")
                .fin("hot", "a", "1.2").replica("r1", "x", 1);
        assertEquals(Set.of(Property.MONOTONIC_READS), vanished.properties());
    }

    @Test
    void readsFromANewerEpochWithALowerLsnAreNotGoingBack() {
        H h = new H().read("c5", "hot", "a", "1.9", "r2").read("c5", "hot", "b", "2.5", "r3").replica("r1", "x", 1);
        assertEquals(List.of(), h.check());
    }

    @Test
    void reportsTwoReplicasLeadingOneEpoch() {
        H sampled = healthy().sample("r3", "leader", 2, true);
        assertEquals(Set.of(Property.TWO_LEADERS), sampled.properties());
        H acked = healthy().write("c4", "k4", "v4", "one", "2.7", "r1").fin("k4", "v4", "2.7");
        assertEquals(Set.of(Property.TWO_LEADERS), acked.properties());
        H replayed = healthy().write("c4", "k4", "v4", "one", "2.7", "r1", true).fin("k4", "v4", "2.7");
        assertEquals(List.of(), replayed.check(), "a new leader confirming its predecessor's entry (idempotent retry) did not accept it");
        H notAccepting = healthy().sample("r3", "leader", 2, false);
        assertEquals(List.of(), notAccepting.check(), "a leader that stopped accepting writes is not a second leader");
    }

    @Test
    void reportsReplicasThatDoNotConverge() {
        assertEquals(Set.of(Property.DIVERGENCE), healthy().replica("r3", "abd", 3).properties());
        assertEquals(Set.of(Property.DIVERGENCE), healthy().replica("r3", "abc", 2).properties());
        assertEquals(Set.of(Property.DIVERGENCE), healthy().replica("r3", new ReplicaFinal(false, null, 0, 0, 0, Set.of())).properties());
    }

    @Test
    void reportsRolledBackEntriesMissingFromTheRollbackFile() {
        H h = healthy().replica("r1", new ReplicaFinal(true, "abc", 3, 5, 3, Set.of()));
        assertEquals(Set.of(Property.UNTRACED_ROLLBACK), h.properties());
    }

    @Test
    void rejectsAMalformedHistoryInsteadOfCheckingIt() {
        H h = new H();
        h.events.add(Event.invoke(0, "c1", "write", "k", "v", "one", null));
        h.events.add(Event.invoke(1, "c1", "write", "k", "w", "one", null));
        assertThrows(IllegalArgumentException.class, h::check);
    }

    @Test
    void summaryMeasuresFailoverFromLeaderKillToFirstWriteInANewerEpoch() {
        H h = new H();
        h.t = 100;
        h.write("c1", "a", "1", "one", "1.1", "r1");
        h.events.add(Event.fault(h.t, "kill-leader", "r1", 1L));
        double killT = h.t;
        h.t += 300;
        h.writeUnknown("c1", "b", "2", "one");
        h.write("c1", "c", "3", "one", "2.2", "r2");
        RunSummary s = RunSummary.of(h.events);
        assertEquals(1, s.failoverMs().size());
        assertEquals(h.t - 1 - killT, s.failoverMs().get(0), 1e-9);
        assertEquals(2, s.writesOk());
        assertEquals(1, s.writesUnknown());
        assertEquals(2.0 / 3, s.writeAvailability(), 1e-9);
    }

    @Test
    void aLeaderKillWithoutANewEpochIsReportedAsUnrecovered() {
        H h = new H();
        h.events.add(Event.fault(0, "kill-leader", "r1", 1L));
        h.t = 5;
        h.write("c1", "a", "1", "one", "1.1", "r1");
        RunSummary s = RunSummary.of(h.events);
        assertEquals(0, s.failoverMs().size());
        assertEquals(1, s.leaderKillsWithoutRecovery());
    }
}
