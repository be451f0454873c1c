package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ErrorCode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * The simulated network between replicas: every message takes a random delay (so messages
 * overtake each other), some are dropped or delivered twice while faults are on, and a
 * partition drops whatever crosses it at delivery time. Streams are modelled as in gRPC: each
 * message names the follower-opened stream it belongs to, and drivers ignore closed streams.
 */
final class SimNetwork {

    /** One entry in a replica's log: a put of {@code key = value} by client write {@code writeId}. */
    record SimEntry(long epoch, long lsn, long writeId, String key, long value) {
        LogPosition position() {
            return new LogPosition(epoch, lsn);
        }
    }

    sealed interface Msg {}

    record Subscribe(long streamId, String followerId, long epoch, LogPosition last, EpochHistory history) implements Msg {}

    record Ack(long streamId, String followerId, long epoch, long flushedLsn, long appliedLsn) implements Msg {}

    record Append(long streamId, long epoch, LogPosition prev, List<SimEntry> entries, EpochHistory history) implements Msg {}

    record Heartbeat(long streamId, long epoch, LogPosition leaderLast) implements Msg {}

    record Truncate(long streamId, long epoch, long toLsn, EpochHistory history) implements Msg {}

    record StreamError(long streamId, ErrorCode code) implements Msg {}

    record Envelope(long deliverAtMs, long seq, String from, String to, Msg msg) {}

    private static final long BASE_DELAY_MS = 2;
    private static final long MAX_EXTRA_DELAY_MS = 40;
    private static final double REORDER_PROBABILITY = 0.15;
    private static final double DROP_PROBABILITY = 0.02;
    private static final double DUPLICATE_PROBABILITY = 0.02;

    private final Random random;
    private final PriorityQueue<Envelope> inFlight = new PriorityQueue<>(
            Comparator.comparingLong(Envelope::deliverAtMs).thenComparingLong(Envelope::seq));
    private final Set<String> isolated = new TreeSet<>();
    private long nextSeq;
    private boolean faulty = true;

    SimNetwork(Random random) {
        this.random = random;
    }

    void send(long nowMs, String from, String to, Msg msg) {
        if (faulty && random.nextDouble() < DROP_PROBABILITY) {
            return;
        }
        enqueue(nowMs, from, to, msg);
        if (faulty && random.nextDouble() < DUPLICATE_PROBABILITY) {
            enqueue(nowMs, from, to, msg);
        }
    }

    private void enqueue(long nowMs, String from, String to, Msg msg) {
        long delayMs = BASE_DELAY_MS;
        if (faulty && random.nextDouble() < REORDER_PROBABILITY) {
            delayMs += 1 + random.nextInt((int) MAX_EXTRA_DELAY_MS);
        }
        inFlight.add(new Envelope(nowMs + delayMs, nextSeq++, from, to, msg));
    }

    /** Messages due by {@code nowMs} that the partition lets through, in delivery order. */
    List<Envelope> deliverDue(long nowMs) {
        List<Envelope> due = new ArrayList<>();
        while (!inFlight.isEmpty() && inFlight.peek().deliverAtMs() <= nowMs) {
            Envelope e = inFlight.poll();
            if (!cut(e.from(), e.to())) {
                due.add(e);
            }
        }
        return due;
    }

    boolean cut(String a, String b) {
        return isolated.contains(a) != isolated.contains(b);
    }

    /** The controller and the clients sit on the side that is not isolated. */
    boolean isolatedFromController(String replica) {
        return isolated.contains(replica);
    }

    void isolate(Set<String> replicas) {
        isolated.clear();
        isolated.addAll(replicas);
    }

    Set<String> isolated() {
        return isolated;
    }

    void heal() {
        isolated.clear();
    }

    /** From now on: no drops, no duplicates, no reordering. */
    void calm() {
        faulty = false;
    }
}
