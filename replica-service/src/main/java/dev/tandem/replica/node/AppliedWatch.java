package dev.tandem.replica.node;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

/**
 * Reads waiting for a session position to be applied here (PostgreSQL's
 * {@code pg_wal_replay_wait}, Ratis' {@code queryStale}). Registered from gRPC threads; the
 * driver re-checks them after every apply or truncation and expires them on ticks.
 */
public final class AppliedWatch {

    private record Waiter(LogPosition position, long deadlineMs, CompletableFuture<EpochHistory.Coverage> result) {}

    /** What the store holds now: its history and applied lsn. */
    public record Applied(EpochHistory history, long appliedLsn) {}

    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final Supplier<Applied> applied;

    public AppliedWatch(Supplier<Applied> applied) {
        this.applied = applied;
    }

    /** Completes with COVERED or LOST as soon as that is known, or PENDING at {@code deadlineMs}. */
    public CompletableFuture<EpochHistory.Coverage> await(LogPosition position, long deadlineMs) {
        Waiter w = new Waiter(position, deadlineMs, new CompletableFuture<>());
        waiters.add(w);
        // Check once after registering: an apply may have happened between the caller's check and now.
        evaluate(w, applied.get());
        return w.result();
    }

    public void check() {
        if (waiters.isEmpty()) {
            return;
        }
        Applied a = applied.get();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (evaluate(w, a)) {
                it.remove();
            }
        }
    }

    public void expire(long nowMs) {
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (w.result().isDone()) {
                it.remove();
            } else if (nowMs >= w.deadlineMs()) {
                w.result().complete(EpochHistory.Coverage.PENDING);
                it.remove();
            }
        }
    }

    private static boolean evaluate(Waiter w, Applied a) {
        EpochHistory.Coverage c = a.history().coverage(w.position(), a.appliedLsn());
        if (c != EpochHistory.Coverage.PENDING) {
            w.result().complete(c);
            return true;
        }
        return w.result().isDone();
    }
}
