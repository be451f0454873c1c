package dev.tandem.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tandem.cli.client.RouterClient;
import dev.tandem.cli.local.DescriptionStore;
import dev.tandem.cli.local.LocalCluster;
import dev.tandem.cli.local.Repo;
import dev.tandem.cli.local.StatusView;
import dev.tandem.cli.local.Supervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bin/tandem local ...}: a cluster of separate processes on loopback, supervised like pods. */
@Command(name = "local", mixinStandardHelpOptions = true, description = "Run a cluster on this machine: replicas, a controller and a router as separate processes.",
        subcommands = {LocalCommand.Up.class, LocalCommand.Down.class, LocalCommand.StatusCmd.class, LocalCommand.Kill.class,
                LocalCommand.Pause.class, LocalCommand.Resume.class, LocalCommand.Stop.class, LocalCommand.Start.class,
                LocalCommand.Supervise.class})
public final class LocalCommand implements Runnable {

    @Override
    public void run() {
        picocli.CommandLine.usage(this, System.out);
    }

    static class DirOption {
        @Option(names = "--dir", description = "cluster directory (default: .tandem at the repository root)")
        Path dir;

        Path dir() {
            return dir != null ? dir.toAbsolutePath().normalize() : Repo.defaultClusterDir();
        }
    }

    @Command(name = "up", mixinStandardHelpOptions = true, description = "Start a local cluster and show a sample session.")
    static class Up implements Callable<Integer> {
        @picocli.CommandLine.Mixin DirOption dir = new DirOption();
        @Option(names = "--replicas", defaultValue = "3", description = "number of replicas (default: ${DEFAULT-VALUE})")
        int replicas;
        @Option(names = "--write-concern", defaultValue = "one", description = "cluster default: leader|one|majority|all (default: ${DEFAULT-VALUE})")
        String writeConcern;
        @Option(names = "--restart-delay-ms", defaultValue = "1000", description = "delay before the supervisor restarts a crashed process, ms (default: ${DEFAULT-VALUE})")
        long restartDelayMs;

        @Override
        public Integer call() {
            dev.tandem.common.WriteConcerns.parse(writeConcern);
            boolean alreadyRunning = LocalCluster.find(dir.dir()).isPresent();
            try (LocalCluster c = LocalCluster.up(dir.dir(), replicas, writeConcern, restartDelayMs, System.out)) {
                System.out.println();
                System.out.println("router: " + c.routerUrl());
                System.out.println("controller: " + c.controllerUrl());
                System.out.println();
                if (!alreadyRunning) {
                    // A running cluster holds the user's data: its 'greeting' key is theirs by now.
                    sampleSession(c.routerUrl());
                    System.out.println();
                }
                System.out.println("next: bin/tandem local status | local kill r1 | chaos --kills 3 | local down");
            }
            return 0;
        }

        /** Does a write and a read-your-write through the router and prints them as curl commands with their answers. */
        static void sampleSession(String router) {
            RouterClient http = new RouterClient(router, Duration.ofSeconds(5));
            String value = "hello from tandem";
            RouterClient.Response w = null;
            for (int attempt = 0; attempt < 50; attempt++) {
                w = http.put("greeting", value, null, null);
                if (w.isOk()) {
                    break;
                }
                LocalClusterSleep.ms(200);
            }
            System.out.println("try it (a write, then a read-your-write with the session token it returned):");
            System.out.println();
            System.out.println("  curl -i -X PUT " + router + "/v1/kv/greeting -H 'Tandem-Write-Concern: one' --data '" + value + "'");
            if (w == null || !w.isOk()) {
                System.out.println("  -> the write failed (" + (w == null ? "no answer" : w.status() + " " + w.error())
                        + "); see the logs in the cluster directory");
                return;
            }
            System.out.println("  -> " + w.status() + ", Tandem-Session: " + w.session() + ", Tandem-Position: " + w.position()
                    + ", Tandem-Served-By: " + w.servedBy());
            System.out.println();
            System.out.println("  curl -i " + router + "/v1/kv/greeting -H 'Tandem-Session: " + w.session() + "'");
            RouterClient.Response r = http.get("greeting", "session", w.session());
            System.out.println("  -> " + r.status() + " '" + r.body() + "', served by " + r.servedBy() + ", Tandem-Session: " + r.session());
            System.out.println();
            System.out.println("  The token carries the position of your write: any router sends the read to a replica that has");
            System.out.println("  applied it (or waits, or asks the leader), so you always read your own writes.");
        }
    }

    /** Sleep without checked exceptions, for retry loops in commands. */
    static final class LocalClusterSleep {
        static void ms(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Command(name = "down", mixinStandardHelpOptions = true, description = "Stop every process of the local cluster (by PID).")
    static class Down implements Callable<Integer> {
        @picocli.CommandLine.Mixin DirOption dir = new DirOption();
        @Option(names = "--purge", description = "also delete the cluster directory (data, logs, secret)")
        boolean purge;

        @Override
        public Integer call() {
            LocalCluster.down(dir.dir(), purge, System.out);
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Replicas (role, epoch, positions, lag), controller and router.")
    static class StatusCmd implements Callable<Integer> {
        @picocli.CommandLine.Mixin DirOption dir = new DirOption();
        @Option(names = "--json", description = "print JSON")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (LocalCluster c = LocalCluster.require(dir.dir())) {
                List<StatusView.Row> rows = StatusView.collect(c);
                if (json) {
                    System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rows));
                } else {
                    System.out.println("cluster in " + c.store().dir() + ", router " + c.routerUrl() + ", supervisor pid "
                            + c.description().supervisorPid());
                    System.out.print(StatusView.format(rows));
                    c.leaderInfo().ifPresent(l -> c.client(l.getReplicaId()).tryStatus(false, 1000)
                            .ifPresent(s -> System.out.print("leader " + l.getReplicaId() + " sees its followers:\n" + StatusView.followers(s))));
                }
                boolean allAnswer = rows.stream().allMatch(r -> "ok".equals(r.health()) || "ready".equals(r.health()));
                return allAnswer ? 0 : 1;
            }
        }
    }

    abstract static class OnService implements Callable<Integer> {
        @picocli.CommandLine.Mixin DirOption dir = new DirOption();
        @Parameters(index = "0", description = "service name: r1, r2, ..., controller or router")
        String name;

        @Override
        public Integer call() {
            try (LocalCluster c = LocalCluster.require(dir.dir())) {
                act(c);
            }
            return 0;
        }

        abstract void act(LocalCluster c);
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, description = "SIGKILL a service (a crash: the supervisor restarts it).")
    static class Kill extends OnService {
        void act(LocalCluster c) {
            long pid = c.kill(name);
            System.out.println("killed " + name + " (pid " + pid + "); the supervisor restarts it in " + c.description().restartDelayMs() + " ms");
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, description = "SIGSTOP a service: it hangs with its sockets open.")
    static class Pause extends OnService {
        void act(LocalCluster c) {
            c.pause(name);
            System.out.println("paused " + name + "; bin/tandem local resume " + name + " continues it");
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "SIGCONT a paused service.")
    static class Resume extends OnService {
        void act(LocalCluster c) {
            c.resume(name);
            System.out.println("resumed " + name);
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop a service on purpose: it stays down until `local start`.")
    static class Stop extends OnService {
        void act(LocalCluster c) {
            c.stop(name, System.out);
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a service that was stopped on purpose.")
    static class Start extends OnService {
        void act(LocalCluster c) {
            c.start(name, System.out);
        }
    }

    @Command(name = "supervise", hidden = true, mixinStandardHelpOptions = true, description = "Run the supervisor in the foreground (local up starts it detached).")
    static class Supervise implements Callable<Integer> {
        @picocli.CommandLine.Mixin DirOption dir = new DirOption();

        @Override
        public Integer call() {
            new Supervisor(new DescriptionStore(dir.dir())).run();
            return 0;
        }
    }
}
