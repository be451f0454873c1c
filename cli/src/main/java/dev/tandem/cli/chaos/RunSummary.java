package dev.tandem.cli.chaos;

import dev.tandem.common.LogPosition;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Figures of a chaos run computed from its history alone (pure, unit-tested): operation counts,
 * availability, and failover times. A failover time is measured from a {@code kill-leader} fault
 * to the first write acknowledged in a newer epoch than the killed leader's, i.e. the first write
 * the new leader took: the time a client could not write. Partitions of the leader (a
 * {@code partition} fault that names the epoch its target led) are measured the same way, apart,
 * and also up to the first Info sample of a leader accepting writes in a newer epoch
 * ({@code partitionPromotionMs}): a write in flight to a cut-off leader hangs until the client's
 * timeout, so the first acknowledged write can come later than the new leader.
 */
public record RunSummary(long writesOk, long writesFailed, long writesUnknown, long readsOk, long readsFailed, long readsUnknown,
                         double durationMs, List<Double> failoverMs, int leaderKillsWithoutRecovery, double writeAvailability,
                         double secondsWithoutWrites, List<Double> partitionFailoverMs, int leaderPartitionsWithoutRecovery,
                         List<Double> partitionPromotionMs) {

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
        int unrecovered = failovers(history, "kill-leader", okWrites, failover);
        List<Double> partitionFailover = new ArrayList<>();
        int partitionsUnrecovered = failovers(history, "partition", okWrites, partitionFailover);
        List<double[]> leaderSamples = new ArrayList<>(); // (t, epoch) of samples of a leader accepting writes
        for (Event e : history) {
            if ("sample".equals(e.kind()) && "leader".equals(e.role()) && Boolean.TRUE.equals(e.accepting()) && e.epoch() != null) {
                leaderSamples.add(new double[] {e.t(), e.epoch()});
            }
        }
        List<Double> partitionPromotion = new ArrayList<>();
        failovers(history, "partition", leaderSamples, partitionPromotion);
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
                completed == 0 ? 0 : (double) wOk / completed, okWrites.isEmpty() ? 0 : empty * BUCKET_MS / 1000.0,
                List.copyOf(partitionFailover), partitionsUnrecovered, List.copyOf(partitionPromotion));
    }

    /**
     * For every {@code fault} event of {@code kind} that names the epoch its target led (every
     * {@code kill-leader}): the time to the first of {@code marks} (time, epoch) in a newer epoch,
     * added to {@code into}. Returns how many never saw one.
     */
    private static int failovers(List<Event> history, String kind, List<double[]> marks, List<Double> into) {
        int unrecovered = 0;
        for (Event e : history) {
            if (!"fault".equals(e.kind()) || !kind.equals(e.fault()) || (e.epoch() == null && !"kill-leader".equals(kind))) {
                continue;
            }
            long leaderEpoch = e.epoch() == null ? -1 : e.epoch();
            double first = -1;
            for (double[] w : marks) {
                if (w[0] > e.t() && w[1] > leaderEpoch) {
                    first = first < 0 ? w[0] : Math.min(first, w[0]);
                }
            }
            if (first < 0) {
                unrecovered++;
            } else {
                into.add(first - e.t());
            }
        }
        return unrecovered;
    }

    /** The q-quantile (0..1) of the failover times by nearest rank, or NaN without any. */
    public double failoverQuantileMs(double q) {
        return quantile(failoverMs, q);
    }

    public double partitionFailoverMaxMs() {
        return partitionFailoverMs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    static double quantile(List<Double> values, double q) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
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
            sb.append(leaderKillsWithoutRecovery > 0 ? "  failover        no leader kill recovered\n" : "  failover        no leader kills\n");
        } else {
            sb.append(String.format(Locale.ROOT, "  failover        kill -> first acknowledged write over %d leader kills: p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
                    failoverMs.size(), failoverQuantileMs(0.5), failoverQuantileMs(0.99), failoverMaxMs()));
        }
        if (leaderKillsWithoutRecovery > 0) {
            sb.append("  ").append(leaderKillsWithoutRecovery).append(" leader kill(s) never saw a write in a newer epoch\n");
        }
        if (!partitionFailoverMs.isEmpty()) {
            sb.append(String.format(Locale.ROOT, "  failover        leader partition -> first acknowledged write over %d leader partitions: p50 %.0f ms, max %.0f ms%n",
                    partitionFailoverMs.size(), quantile(partitionFailoverMs, 0.5), partitionFailoverMaxMs()));
        }
        if (!partitionPromotionMs.isEmpty()) {
            sb.append(String.format(Locale.ROOT, "  failover        leader partition -> new leader accepting writes (Info samples): p50 %.0f ms, max %.0f ms%n",
                    quantile(partitionPromotionMs, 0.5), partitionPromotionMs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN)));
        }
        if (leaderPartitionsWithoutRecovery > 0) {
            sb.append("  ").append(leaderPartitionsWithoutRecovery).append(" leader partition(s) never saw a write in a newer epoch\n");
        }
        return sb.toString();
    }
}
