package dev.tandem.common;

import dev.tandem.proto.Position;

/**
 * A place in the replicated log: the epoch of the leader that wrote the entry and its lsn.
 * Positions order by epoch first, then lsn (as Raft orders (term, index)), so that the max of
 * two positions seen from diverged histories is the one the newer epoch decided.
 * {@link #ZERO} is "before the first entry".
 */
public record LogPosition(long epoch, long lsn) implements Comparable<LogPosition> {

    public static final LogPosition ZERO = new LogPosition(0, 0);

    public LogPosition {
        if (epoch < 0 || lsn < 0) {
            throw new IllegalArgumentException("negative position " + epoch + "." + lsn);
        }
    }

    public static LogPosition of(Position p) {
        return p == null ? ZERO : new LogPosition(p.getEpoch(), p.getLsn());
    }

    public Position toProto() {
        return Position.newBuilder().setEpoch(epoch).setLsn(lsn).build();
    }

    /** Parses the {@link #toString()} form {@code epoch.lsn}, e.g. {@code 3.1042}. */
    public static LogPosition parse(String text) {
        int dot = text == null ? -1 : text.indexOf('.');
        if (dot <= 0 || dot == text.length() - 1) {
            throw new IllegalArgumentException("position must look like <epoch>.<lsn>, got '" + text + "'");
        }
        try {
            return new LogPosition(Long.parseLong(text.substring(0, dot)), Long.parseLong(text.substring(dot + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("position must look like <epoch>.<lsn>, got '" + text + "'");
        }
    }

    public static LogPosition max(LogPosition a, LogPosition b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    @Override
    public int compareTo(LogPosition o) {
        int c = Long.compare(epoch, o.epoch);
        return c != 0 ? c : Long.compare(lsn, o.lsn);
    }

    @Override
    public String toString() {
        return epoch + "." + lsn;
    }
}
