package dev.tandem.cli.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.process.ServiceProcess;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The pure parts of network-namespace placement: names, addresses, ip commands, stale cleanup, command lines. */
class NetnsTest {

    static final Netns.Layout LAYOUT = Netns.Layout.forOwner(4242, List.of("r1", "r2", "r3"));

    @Test
    void namesEveryNamespaceAfterTheOwnerPid() {
        assertEquals("tdm-4242", LAYOUT.prefix());
        assertEquals("tdm-4242-hub", LAYOUT.hub());
        assertEquals("tdm-4242-r2", LAYOUT.namespaceOf("r2"));
        assertEquals(List.of("tdm-4242-hub", "tdm-4242-r1", "tdm-4242-r2", "tdm-4242-r3"), LAYOUT.namespaces());
        assertEquals("tdm-4242-{hub,r1,r2,r3}", Netns.describe(LAYOUT));
        assertEquals("10.231.0.11", LAYOUT.hostOf("r1"));
        assertEquals("10.231.0.13", LAYOUT.hostOf("r3"));
        assertEquals("tv-r3", LAYOUT.hubLinkOf("r3"));
        assertThrows(IllegalArgumentException.class, () -> LAYOUT.hostOf("r4"));
        assertThrows(IllegalArgumentException.class, () -> new Netns.Layout("other-1", List.of("r1")));
        assertThrows(IllegalArgumentException.class, () -> Netns.Layout.forOwner(1, List.of("a-name-too-long-for-a-link")));
    }

    @Test
    void buildsEverythingInsideItsOwnNamespacesAndNothingInTheCallers() {
        List<List<String>> cmds = LAYOUT.setupCommands();
        assertEquals(List.of("netns", "add", "tdm-4242-hub"), cmds.get(0));
        for (List<String> c : cmds) {
            // Every link or address command names one of our namespaces with -n: none runs in the caller's namespace.
            if (!c.get(0).equals("netns")) {
                assertEquals("-n", c.get(0), c.toString());
                assertTrue(LAYOUT.namespaces().contains(c.get(1)), c.toString());
            }
        }
        assertTrue(cmds.contains(List.of("-n", "tdm-4242-hub", "link", "add", "tv-r2", "type", "veth", "peer", "name", "eth0",
                "netns", "tdm-4242-r2")));
        assertTrue(cmds.contains(List.of("-n", "tdm-4242-r2", "addr", "add", "10.231.0.12/24", "dev", "eth0")));
        assertTrue(cmds.contains(List.of("-n", "tdm-4242-hub", "addr", "add", "10.231.0.1/24", "dev", "tbr0")));
        assertTrue(cmds.contains(List.of("-n", "tdm-4242-r3", "link", "set", "lo", "up")));
        // Namespaces exist before anything is placed in them.
        assertTrue(cmds.indexOf(List.of("netns", "add", "tdm-4242-r3")) < cmds.indexOf(List.of("-n", "tdm-4242-hub", "link", "set", "lo", "up")));
        assertEquals(List.of("-n", "tdm-4242-hub", "link", "set", "tv-r1", "down"), LAYOUT.cutCommand("r1"));
        assertEquals(List.of("-n", "tdm-4242-hub", "link", "set", "tv-r1", "up"), LAYOUT.healCommand("r1"));
    }

    @Test
    void findsStaleNamespacesOnlyAmongOursAndOnlyOfDeadOwners() {
        assertEquals(Optional.of(4242L), Netns.ownerPid("tdm-4242-hub"));
        assertEquals(Optional.of(7L), Netns.ownerPid("tdm-7-r1"));
        assertEquals(Optional.empty(), Netns.ownerPid("tdm-hub"));
        assertEquals(Optional.empty(), Netns.ownerPid("tdmx-7-r1"));
        assertEquals(Optional.empty(), Netns.ownerPid("someone-else"));
        assertEquals(Optional.empty(), Netns.ownerPid("tdm-12-"));
        List<String> names = Netns.parseList("tdm-7-r1 (id: 3)\ntdm-7-hub (id: 2)\ntdm-8-hub\nblue\ntdm-9-r1 (id: 0)\n\n");
        assertEquals(List.of("tdm-7-r1", "tdm-7-hub", "tdm-8-hub", "blue", "tdm-9-r1"), names);
        Set<Long> alive = Set.of(8L);
        // Hubs first: they hold the supervisor, which would otherwise restart killed replicas.
        assertEquals(List.of("tdm-7-hub", "tdm-7-r1", "tdm-9-r1"), Netns.stale(names, alive::contains));
        assertEquals(List.of(), Netns.stale(names, pid -> true));
        assertEquals(List.of(12L, 345L), Netns.parsePids("12\n345\n\nnot a pid\n"));
    }

    @Test
    void theCurrentProcessOwnsLiveNamespaces() {
        assertTrue(Netns.ownerAlive(ProcessHandle.current().pid()));
        assertFalse(Netns.ownerAlive(Long.MAX_VALUE));
    }

    @Test
    void runsANamespacedServiceUnderIpNetnsExecOnItsNamespaceAddress() {
        ServiceProcess.Spec spec = ServiceProcess.Spec.of("r2", Path.of("/x/quarkus-run.jar"), 7002, Path.of("/x/r2.log"))
                .withProperty("tandem.replica.id", "r2");
        List<String> cmd = LocalProcess.command("/usr/sbin/ip", "/jdk/bin/java", spec, "10.231.0.12", "tdm-4242-r2");
        assertEquals(List.of("/usr/sbin/ip", "netns", "exec", "tdm-4242-r2", "/jdk/bin/java", "-Xmx256m", "-XX:+UseG1GC",
                "-Dquarkus.http.port=7002", "-Dquarkus.http.host=10.231.0.12", "-Dtandem.replica.id=r2", "-jar", "/x/quarkus-run.jar"), cmd);
        // The PID check of every signal still finds it: the port marker is followed by another argument.
        assertTrue(String.join(" ", cmd).contains(Pids.portMarker(7002)));
    }

    @Test
    void placesReplicasInTheirNamespacesAndBackOnLoopback() {
        AtomicInteger port = new AtomicInteger(7000);
        ClusterDescription d = ClusterDescription.create(Path.of("/tmp/c"), "0123456789abcdef0123", "one", 1000, 3, port::incrementAndGet);
        ClusterDescription placed = d.placed(LAYOUT);
        assertEquals("r1=10.231.0.11:7001,r2=10.231.0.12:7002,r3=10.231.0.13:7003", placed.replicaList());
        assertEquals("tdm-4242-r2", placed.require("r2").netns());
        assertEquals("127.0.0.1:7004", placed.controller().address());
        assertEquals(null, placed.router().netns());
        // A supervisor restart keeps the placement.
        assertEquals("tdm-4242-r2", placed.withService("r2", s -> s.restarted(99)).require("r2").netns());
        ClusterDescription back = placed.placed(null);
        assertEquals(d, back);
        assertEquals("r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003", back.replicaList());
    }

    @Test
    void theSupervisorTellsANamespacedReplicaItsAdvertisedAddress() {
        AtomicInteger port = new AtomicInteger(7000);
        ClusterDescription d = ClusterDescription.create(Path.of("/tmp/c"), "0123456789abcdef0123", "one", 1000, 3, port::incrementAndGet)
                .placed(LAYOUT);
        assertEquals("10.231.0.13:7003", Supervisor.spec(d, d.require("r3")).properties().get("tandem.replica.advertised-address"));
        assertEquals("r1=10.231.0.11:7001,r2=10.231.0.12:7002,r3=10.231.0.13:7003",
                Supervisor.spec(d, d.router()).properties().get("tandem.router.replicas"));
        ClusterDescription loop = d.placed(null);
        assertEquals(null, Supervisor.spec(loop, loop.require("r3")).properties().get("tandem.replica.advertised-address"));
    }
}
