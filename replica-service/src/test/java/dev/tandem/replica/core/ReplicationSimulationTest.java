package dev.tandem.replica.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Seeded simulation of 3- and 5-replica clusters (every fourth seed has five) under crashes,
 * restarts, partitions, message drops, duplicates and reordering, random fsync timing, failovers
 * and planned switchovers. See
 * {@link Simulation} for what is checked after every step. Seeds are fixed so every run is the
 * same; {@code -Dtandem.sim.seed=N} reruns one schedule, {@code -Dtandem.sim.schedules=N} runs more.
 */
class ReplicationSimulationTest {

    private static final int DEFAULT_SCHEDULES = 240;
    private static final int STEPS_PER_SCHEDULE = 300;
    private static final long FIRST_SEED = 1;

    @Test
    void randomSchedulesKeepEveryInvariant() {
        Long onlySeed = Long.getLong("tandem.sim.seed");
        int schedules = Integer.getInteger("tandem.sim.schedules", DEFAULT_SCHEDULES);
        List<Long> seeds = new ArrayList<>();
        if (onlySeed != null) {
            seeds.add(onlySeed);
        } else {
            for (long s = FIRST_SEED; s < FIRST_SEED + schedules; s++) {
                seeds.add(s);
            }
        }
        long startedNs = System.nanoTime();
        int steps = 0;
        int acknowledged = 0;
        int notConfirmed = 0;
        int failovers = 0;
        int switchovers = 0;
        int truncations = 0;
        int crashes = 0;
        int partitions = 0;
        for (long seed : seeds) {
            Simulation.Result r = new Simulation(seed).run(STEPS_PER_SCHEDULE);
            steps += r.steps();
            acknowledged += r.acknowledged();
            notConfirmed += r.notConfirmed();
            failovers += r.failovers();
            switchovers += r.switchovers();
            truncations += r.truncations();
            crashes += r.crashes();
            partitions += r.partitions();
        }
        long elapsedMs = (System.nanoTime() - startedNs) / 1_000_000;
        System.out.printf("replication simulation: %d schedules, %d steps, %d writes acknowledged, %d not confirmed, "
                        + "%d failovers, %d switchovers, %d truncations, %d crashes, %d partitions in %d ms%n",
                seeds.size(), steps, acknowledged, notConfirmed, failovers, switchovers, truncations, crashes, partitions,
                elapsedMs);
        if (onlySeed == null) {
            // A simulation that never fails over or truncates checks nothing interesting.
            assertTrue(acknowledged > 0 && failovers > 0 && switchovers > 0 && truncations > 0 && crashes > 0
                    && partitions > 0, "the schedules did not exercise failover, switchover, truncation, crashes and partitions");
        }
    }
}
