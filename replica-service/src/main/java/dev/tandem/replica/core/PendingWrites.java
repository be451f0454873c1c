package dev.tandem.replica.core;

import dev.tandem.common.LogPosition;
import dev.tandem.common.WriteConcerns;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.WriteConcern;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.IntToLongFunction;

/**
 * Client writes waiting for their write concern, indexed twice: per concern by lsn (a concern
 * confirmed up to lsn L confirms every waiting write at or below L) and by deadline (for
 * NOT_CONFIRMED). Each write leaves both indexes when it completes, so nothing piles up.
 */
final class PendingWrites<W> {

    private record Pending<W>(long seq, LogPosition position, WriteConcern concern, long deadlineMs, W waiter) {}

    private static final Comparator<Pending<?>> BY_LSN =
            Comparator.<Pending<?>>comparingLong(p -> p.position().lsn()).thenComparingLong(Pending::seq);
    private static final Comparator<Pending<?>> BY_DEADLINE =
            Comparator.<Pending<?>>comparingLong(Pending::deadlineMs).thenComparingLong(Pending::seq);

    private final Map<WriteConcern, TreeSet<Pending<W>>> byConcern = new EnumMap<>(WriteConcern.class);
    private final TreeSet<Pending<W>> byDeadline = new TreeSet<>(BY_DEADLINE);
    private long nextSeq;

    void add(LogPosition position, WriteConcern concern, long deadlineMs, W waiter) {
        Pending<W> p = new Pending<>(nextSeq++, position, concern, deadlineMs, waiter);
        byConcern.computeIfAbsent(concern, c -> new TreeSet<>(BY_LSN)).add(p);
        byDeadline.add(p);
    }

    /**
     * Completes OK every write whose lsn is at or below what its concern is confirmed up to.
     *
     * @param confirmedLsnByCopies for a number of copies (1..members), the highest lsn that many
     *                             members (the leader among them) have flushed
     */
    void confirm(IntToLongFunction confirmedLsnByCopies, int members, List<Completion<W>> out) {
        for (Map.Entry<WriteConcern, TreeSet<Pending<W>>> e : byConcern.entrySet()) {
            long confirmedLsn = confirmedLsnByCopies.applyAsLong(WriteConcerns.requiredCopies(e.getKey(), members));
            TreeSet<Pending<W>> waiting = e.getValue();
            while (!waiting.isEmpty() && waiting.first().position().lsn() <= confirmedLsn) {
                Pending<W> p = waiting.pollFirst();
                byDeadline.remove(p);
                out.add(new Completion<>(p.waiter(), p.position(), ErrorCode.OK, ""));
            }
        }
    }

    /** Completes NOT_CONFIRMED every write whose deadline is at or before {@code nowMs}. */
    void expire(long nowMs, List<Completion<W>> out) {
        while (!byDeadline.isEmpty() && byDeadline.first().deadlineMs() <= nowMs) {
            Pending<W> p = byDeadline.pollFirst();
            byConcern.get(p.concern()).remove(p);
            out.add(new Completion<>(p.waiter(), p.position(), ErrorCode.NOT_CONFIRMED,
                    "write concern " + WriteConcerns.name(p.concern()) + " not confirmed within the deadline"));
        }
    }

    /** Completes every waiting write NOT_CONFIRMED with {@code reason}, in lsn order. */
    void failAll(String reason, List<Completion<W>> out) {
        List<Pending<W>> all = new ArrayList<>(byDeadline);
        all.sort(BY_LSN);
        for (Pending<W> p : all) {
            out.add(new Completion<>(p.waiter(), p.position(), ErrorCode.NOT_CONFIRMED, reason));
        }
        byDeadline.clear();
        byConcern.clear();
    }
}
