package dev.tandem.cli.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The pure parts of partition faults: the schedule, the re-executed command, the failover figures. */
class PartitionPlanTest {

    @Test
    void interleavesPartitionsOfTheLeaderAndOfAFollowerWithTheKills() {
        assertEquals(List.of("kill-leader", "kill-follower", "kill-leader", "pause-follower", "kill-leader", "pause-leader"),
                ChaosRun.plan(3, 0));
        assertEquals(List.of("partition-leader", "partition-follower"), ChaosRun.plan(0, 2));
        assertEquals(List.of("kill-leader", "kill-follower", "partition-leader", "kill-leader", "pause-follower", "partition-follower",
                "kill-leader", "pause-leader"), ChaosRun.plan(3, 2));
        assertEquals(List.of("kill-leader", "kill-follower", "partition-leader", "partition-follower", "partition-leader"),
                ChaosRun.plan(1, 3));
    }

    @Test
    void reExecutesTheSameResolvedCommandInsideTheHub() {
        ChaosCommand c = new ChaosCommand();
        new CommandLine(c).parseArgs("--duration", "15s", "--kills", "0", "--partitions", "2", "--partition-ms", "2500");
        List<String> args = c.childArgs(Path.of("/abs/cluster"), Path.of("/abs/out"), 42, "tdm-77");
        assertEquals(List.of("chaos", "--duration", "15s", "--kills", "0", "--clients", "4", "--write-concern", "one", "--out", "/abs/out",
                "--dir", "/abs/cluster", "--pause-ms", "2000", "--settle-ms", "1000", "--seed", "42", "--partitions", "2",
                "--partition-ms", "2500", "--netns-prefix", "tdm-77"), args);
        // The copy parses what it is given.
        ChaosCommand copy = new ChaosCommand();
        new CommandLine(copy).parseArgs(args.subList(1, args.size()).toArray(String[]::new));
        assertEquals("tdm-77", copy.netnsPrefix);
        assertEquals(2500, copy.partitionMs);

        List<String> cmd = NamespaceRun.command("/usr/sbin/ip", "tdm-77-hub", "/jdk/bin/java",
                List.of("-Xmx512m", "-agentlib:jdwp=transport=dt_socket,address=5005", "-Dtandem.home=/repo"), "/repo/cli.jar", args);
        assertEquals(List.of("/usr/sbin/ip", "netns", "exec", "tdm-77-hub", "/jdk/bin/java", "-Xmx512m", "-Dtandem.home=/repo",
                "-cp", "/repo/cli.jar", "dev.tandem.cli.TandemCli", "chaos"), cmd.subList(0, 11));
        assertTrue(cmd.containsAll(List.of("--netns-prefix", "tdm-77")));
    }

    @Test
    void measuresFailoverFromAPartitionOfTheLeaderAndNotFromOneOfAFollower() {
        HistoryCheckerTest.H h = new HistoryCheckerTest.H();
        h.t = 100;
        h.write("c1", "a", "1", "one", "1.1", "r1");
        h.events.add(Event.fault(h.t, "partition", "r2", null));
        h.t += 50;
        h.events.add(Event.fault(h.t, "heal", "r2", null));
        h.write("c1", "b", "2", "one", "1.2", "r1");
        double cutT = ++h.t;
        h.events.add(Event.fault(cutT, "partition", "r1", 1L));
        h.t += 300;
        h.sample("r1", "leader", 1, true); // still the old epoch: not the new leader
        double promotedT = h.t;
        h.sample("r3", "leader", 2, true);
        h.t += 400;
        h.writeUnknown("c1", "c", "3", "one");
        h.write("c1", "d", "4", "one", "2.3", "r3");
        h.events.add(Event.fault(h.t++, "heal", "r1", null));
        RunSummary s = RunSummary.of(h.events);
        assertEquals(List.of(), s.failoverMs());
        assertEquals(0, s.leaderKillsWithoutRecovery());
        assertEquals(1, s.partitionFailoverMs().size());
        assertEquals(h.t - 2 - cutT, s.partitionFailoverMs().get(0), 1e-9);
        assertEquals(0, s.leaderPartitionsWithoutRecovery());
        assertEquals(List.of(promotedT - cutT), s.partitionPromotionMs());
        assertTrue(s.format().contains("leader partition -> new leader accepting writes (Info samples): p50 301 ms"), s.format());
        assertTrue(s.format().contains("leader partition -> first acknowledged write over 1 leader partitions"), s.format());
        assertTrue(s.format().contains("no leader kills"), s.format());
    }

    @Test
    void aLeaderPartitionWithoutANewEpochIsReportedAsUnrecovered() {
        HistoryCheckerTest.H h = new HistoryCheckerTest.H();
        h.events.add(Event.fault(0, "partition", "r1", 3L));
        h.t = 5;
        h.write("c1", "a", "1", "one", "3.9", "r1");
        RunSummary s = RunSummary.of(h.events);
        assertEquals(1, s.leaderPartitionsWithoutRecovery());
        assertTrue(s.format().contains("1 leader partition(s) never saw a write in a newer epoch"), s.format());
    }
}
