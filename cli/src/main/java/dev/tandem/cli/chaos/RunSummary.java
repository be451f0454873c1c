package dev.tandem.cli.chaos;

import dev.tandem.common.LogPosition;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Figures of a chaos run computed from its history alone (pure, unit-tested): operation counts,
 * availability, and failover times. A failover time is measured from a {@code kill-leader} fault
 * to the first write acknowledged in a newer epoch than the killed leader's, i.e. the first write
 * the new leader took: the time a client could not write.
 */
public record RunSummary(long writesOk, long writesFailed, long writesUnknown, long readsOk, long readsFailed, long readsUnknown,
                         double durationMs, List<Double> failoverMs, int leaderKillsWithoutRecovery, double writeAvailability,
                         double secondsWithoutWrites) {

    /** Width of the buckets in which "no write succeeded" is counted, in ms. */
    static final double BUCKET_MS = 250;

    public static RunSummary of(List<Event> history) {
        long wOk = 0, wFail = 0, wUnk = 0, rOk = 0, rFail = 0, rUnk = 0;
        double end = 0;
        List<double[]> okWrites = new ArrayList<>(); // (t, epoch)
        for (Event[] p : HistoryChecker.pairs(history)) {
            Event inv = p[0];
            Event done = p[1];
            boolean write = "write".equals(inv.f());
            switch (done.type()) {
                case "ok":
                    if (write) {
                        wOk++;
                        LogPosition pos = HistoryChecker.pos(done.position());
                        okWrites.add(new double[] {done.t(), pos == null ? -1 : pos.epoch()});
                    } else {
                        rOk++;
                    }
                    break;
                case "fail":
                    if (write) wFail++; else rFail++;
                    break;
                default:
                    if (write) wUnk++; else rUnk++;
            }
        }
        for (Event e : history) {
            end = Math.max(end, e.t());
        }
        List<Double> failover = new ArrayList<>();
        int unrecovered = 0;
        for (Event e : history) {
            if (!"fault".equals(e.kind()) || !"kill-leader".equals(e.fault())) {
                continue;
            }
            long killedEpoch = e.epoch() == null ? -1 : e.epoch();
            double first = -1;
            for (double[] w : okWrites) {
                if (w[0] > e.t() && w[1] > killedEpoch) {
                    first = first < 0 ? w[0] : Math.min(first, w[0]);
                }
            }
            if (first < 0) {
                unrecovered++;
            } else {
                failover.add(first - e.t());
            }
        }
        double firstOp = history.stream().filter(Event::isOp).mapToDouble(Event::t).min().orElse(0);
        double lastOp = history.stream().filter(Event::isOp).mapToDouble(Event::t).max().orElse(0);
        int buckets = (int) Math.max(1, Math.ceil((lastOp - firstOp) / BUCKET_MS));
        boolean[] hasWrite = new boolean[buckets];
        for (double[] w : okWrites) {
            int b = (int) Math.min(buckets - 1, Math.max(0, (w[0] - firstOp) / BUCKET_MS));
            hasWrite[b] = true;
        }
        int empty = 0;
        for (boolean b : hasWrite) {
            if (!b) empty++;
        }
        long completed = wOk + wFail + wUnk;
        return new RunSummary(wOk, wFail, wUnk, rOk, rFail, rUnk, end, List.copyOf(failover), unrecovered,
                completed == 0 ? 0 : (double) wOk / completed, okWrites.isEmpty() ? 0 : empty * BUCKET_MS / 1000.0);
    }

    /** The q-quantile (0..1) of the failover times by nearest rank, or NaN without any. */
    public double failoverQuantileMs(double q) {
        if (failoverMs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(failoverMs);
        sorted.sort(Double::compare);
        int rank = (int) Math.ceil(q * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    public double failoverMaxMs() {
        return failoverMs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    public String format() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "  duration        %.1f s%n", durationMs / 1000));
        sb.append(String.format(Locale.ROOT, "  writes          %d ok, %d failed, %d unknown (%.0f/s ok)%n", writesOk, writesFailed,
                writesUnknown, writesOk / Math.max(0.001, durationMs / 1000)));
        sb.append(String.format(Locale.ROOT, "  reads           %d ok, %d failed, %d unknown%n", readsOk, readsFailed, readsUnknown));
        sb.append(String.format(Locale.ROOT, "  availability    %.2f%% of writes ok; %.2f s without any successful write (%.0f ms buckets)%n",
                writeAvailability * 100, secondsWithoutWrites, BUCKET_MS));
        if (failoverMs.isEmpty()) {
            sb.append("  failover        no leader kill recovered\n");
        } else {
            sb.append(String.format(Locale.ROOT, "  failover        kill -> first acknowledged write over %d leader kills: p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
                    failoverMs.size(), failoverQuantileMs(0.5), failoverQuantileMs(0.99), failoverMaxMs()));
        }
        if (leaderKillsWithoutRecovery > 0) {
            sb.append("  ").append(leaderKillsWithoutRecovery).append(" leader kill(s) never saw a write in a newer epoch\n");
        }
        return sb.toString();
    }
}
