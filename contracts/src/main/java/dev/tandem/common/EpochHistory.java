package dev.tandem.common;

import dev.tandem.proto.EpochStart;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The epochs a replica's log went through and the lsn at which each began (Kafka's leader-epoch
 * cache). Because a leader never reuses an epoch and never rewrites its own entries, two logs
 * hold the same entry at lsn {@code l} exactly when both histories give {@code l} the same epoch;
 * that is what truncation after failover and session-token checks rely on.
 *
 * <p>Immutable. Epochs strictly increase and start lsns never decrease; an epoch that wrote
 * nothing has the same start as the next one, and the later epoch owns that lsn.
 */
public final class EpochHistory {

    public record Entry(long epoch, long startLsn, String leaderId) {}

    /** How a replica's log relates to a session's position. */
    public enum Coverage {
        /** The entry at that position is applied here: a read may be served. */
        COVERED,
        /** Not applied yet, but it may still arrive: wait or try elsewhere. */
        PENDING,
        /** That lsn belongs to another epoch here: the position was rolled back in a failover. */
        LOST
    }

    private static final EpochHistory EMPTY = new EpochHistory(List.of());

    private final List<Entry> entries;

    private EpochHistory(List<Entry> entries) {
        this.entries = entries;
    }

    public static EpochHistory empty() {
        return EMPTY;
    }

    public static EpochHistory of(List<Entry> entries) {
        EpochHistory h = EMPTY;
        for (Entry e : entries) {
            h = h.withEpoch(e.epoch(), e.startLsn(), e.leaderId());
        }
        return h;
    }

    public static EpochHistory fromProto(List<EpochStart> starts) {
        EpochHistory h = EMPTY;
        for (EpochStart s : starts) {
            h = h.withEpoch(s.getEpoch(), s.getStartLsn(), s.getLeaderId());
        }
        return h;
    }

    public List<EpochStart> toProto() {
        List<EpochStart> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            out.add(EpochStart.newBuilder().setEpoch(e.epoch()).setStartLsn(e.startLsn())
                    .setLeaderId(e.leaderId() == null ? "" : e.leaderId()).build());
        }
        return out;
    }

    public List<Entry> entries() {
        return entries;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The newest epoch in the history, 0 when empty. */
    public long lastEpoch() {
        return entries.isEmpty() ? 0 : entries.get(entries.size() - 1).epoch();
    }

    /** A history that also records {@code epoch} beginning at {@code startLsn}. */
    public EpochHistory withEpoch(long epoch, long startLsn, String leaderId) {
        if (epoch <= lastEpoch()) {
            throw new IllegalArgumentException("epoch " + epoch + " does not follow " + lastEpoch() + " in " + this);
        }
        if (startLsn < 1 || (!entries.isEmpty() && startLsn < entries.get(entries.size() - 1).startLsn())) {
            throw new IllegalArgumentException("epoch " + epoch + " cannot start at lsn " + startLsn + " after " + this);
        }
        List<Entry> next = new ArrayList<>(entries);
        next.add(new Entry(epoch, startLsn, leaderId));
        return new EpochHistory(Collections.unmodifiableList(next));
    }

    /** The epoch of the entry at {@code lsn}, or 0 if {@code lsn} precedes every epoch. */
    public long epochOf(long lsn) {
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (entries.get(i).startLsn() <= lsn) {
                return entries.get(i).epoch();
            }
        }
        return 0;
    }

    /** The position of the entry at {@code lsn} as this history names it. */
    public LogPosition positionOf(long lsn) {
        return lsn == 0 ? LogPosition.ZERO : new LogPosition(epochOf(lsn), lsn);
    }

    /**
     * The last lsn at which this log (ending at {@code myLastLsn}) and another (with history
     * {@code other}, ending at {@code otherLastLsn}) hold the same entry. Everything up to it is
     * shared; everything after it on either side diverges.
     */
    public long commonPrefixEnd(long myLastLsn, EpochHistory other, long otherLastLsn) {
        long best = 0;
        for (Entry mine : entries) {
            long myEnd = Math.min(endOf(mine.epoch(), myLastLsn), myLastLsn);
            long otherEnd = Math.min(other.endOf(mine.epoch(), otherLastLsn), otherLastLsn);
            if (myEnd < mine.startLsn() || otherEnd < 0) {
                continue;
            }
            long start = Math.max(mine.startLsn(), other.startOf(mine.epoch()));
            long end = Math.min(myEnd, otherEnd);
            if (end >= start) {
                best = Math.max(best, end);
            }
        }
        return best;
    }

    /**
     * Whether a log with this history, applied up to {@code appliedLsn}, holds {@code position}.
     * A position from an epoch this history has not reached yet is PENDING (this replica may simply
     * not have heard of that epoch); a position whose lsn this history gives to another epoch is LOST.
     */
    public Coverage coverage(LogPosition position, long appliedLsn) {
        if (position.lsn() == 0) {
            return Coverage.COVERED;
        }
        if (position.epoch() > lastEpoch()) {
            return Coverage.PENDING;
        }
        if (epochOf(position.lsn()) != position.epoch()) {
            return Coverage.LOST;
        }
        return position.lsn() <= appliedLsn ? Coverage.COVERED : Coverage.PENDING;
    }

    /** Drops epochs that begin after {@code lsn} (they have no entries left after a truncation). */
    public EpochHistory truncatedAfter(long lsn) {
        int keep = entries.size();
        while (keep > 1 && entries.get(keep - 1).startLsn() > lsn) {
            keep--;
        }
        return keep == entries.size() ? this : new EpochHistory(List.copyOf(entries.subList(0, keep)));
    }

    /** Start lsn of {@code epoch}, or -1 if this history does not contain it. */
    private long startOf(long epoch) {
        for (Entry e : entries) {
            if (e.epoch() == epoch) {
                return e.startLsn();
            }
        }
        return -1;
    }

    /** Last lsn owned by {@code epoch}: the next epoch's start - 1, or {@code lastLsn}; -1 if absent. */
    private long endOf(long epoch, long lastLsn) {
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).epoch() == epoch) {
                return i + 1 < entries.size() ? entries.get(i + 1).startLsn() - 1 : lastLsn;
            }
        }
        return -1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EpochHistory h && h.entries.equals(entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (Entry e : entries) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(e.epoch()).append('@').append(e.startLsn());
        }
        return sb.append(']').toString();
    }
}
