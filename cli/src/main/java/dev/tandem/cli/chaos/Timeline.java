package dev.tandem.cli.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A self-contained HTML page (inline SVG, no scripts, no external files) with throughput, errors,
 * faults and leader changes over time, and the report under it.
 */
public final class Timeline {

    private Timeline() {}

    static final double BUCKET_MS = 500;
    static final int WIDTH_PX = 1100;
    static final int HEIGHT_PX = 320;
    static final int MARGIN_PX = 50;

    public static String html(List<Event> history, String report) {
        double end = history.stream().mapToDouble(Event::t).max().orElse(1);
        int n = (int) Math.max(1, Math.ceil(end / BUCKET_MS));
        double[] writes = new double[n];
        double[] reads = new double[n];
        double[] errors = new double[n];
        java.util.Map<String, Event> open = new java.util.HashMap<>();
        for (Event e : history) {
            if (!e.isOp()) {
                continue;
            }
            if ("invoke".equals(e.type())) {
                open.put(e.client(), e);
                continue;
            }
            Event inv = open.remove(e.client());
            int b = (int) Math.min(n - 1, e.t() / BUCKET_MS);
            if (!"ok".equals(e.type())) {
                errors[b]++;
            } else if (inv != null && "write".equals(inv.f())) {
                writes[b]++;
            } else {
                reads[b]++;
            }
        }
        double perSecond = 1000 / BUCKET_MS;
        double max = 1;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, Math.max(writes[i], Math.max(reads[i], errors[i])) * perSecond);
        }
        double plotW = WIDTH_PX - 2 * MARGIN_PX;
        double plotH = HEIGHT_PX - 2 * MARGIN_PX;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='11'>",
                WIDTH_PX, HEIGHT_PX));
        svg.append(String.format(Locale.ROOT, "<rect x='%d' y='%d' width='%.0f' height='%.0f' fill='#fafafa' stroke='#ccc'/>",
                MARGIN_PX, MARGIN_PX, plotW, plotH));
        for (int s = 0; s <= end / 1000; s += Math.max(1, (int) (end / 1000 / 10))) {
            double x = MARGIN_PX + plotW * (s * 1000.0 / end);
            svg.append(String.format(Locale.ROOT, "<text x='%.1f' y='%d' text-anchor='middle' fill='#666'>%ds</text>", x, HEIGHT_PX - MARGIN_PX + 14, s));
        }
        svg.append(String.format(Locale.ROOT, "<text x='%d' y='%d' fill='#666'>%.0f ops/s</text>", 4, MARGIN_PX - 4, max));
        series(svg, writes, perSecond, max, n, plotW, plotH, "#2a9d3f", "writes ok/s");
        series(svg, reads, perSecond, max, n, plotW, plotH, "#2a6fd6", "reads ok/s");
        series(svg, errors, perSecond, max, n, plotW, plotH, "#d62a2a", "failed or unknown/s");
        // Faults (orange) and leader changes (purple) as vertical lines.
        String lastLeader = null;
        int label = 0;
        for (Event e : history) {
            double x = MARGIN_PX + plotW * (e.t() / end);
            if ("fault".equals(e.kind())) {
                svg.append(String.format(Locale.ROOT, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%.0f' stroke='#e08a00' stroke-width='1.5'/>",
                        x, MARGIN_PX, x, MARGIN_PX + plotH));
                svg.append(String.format(Locale.ROOT, "<text x='%.1f' y='%d' fill='#e08a00' transform='rotate(-30 %.1f %d)'>%s %s</text>",
                        x, MARGIN_PX - 4 - (label++ % 2) * 12, x, MARGIN_PX - 4, esc(e.fault()), esc(e.target() == null ? "" : e.target())));
            } else if ("sample".equals(e.kind()) && "leader".equals(e.role()) && Boolean.TRUE.equals(e.accepting())) {
                String leader = e.replica() + "@" + e.epoch();
                if (!leader.equals(lastLeader)) {
                    lastLeader = leader;
                    svg.append(String.format(Locale.ROOT, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%.0f' stroke='#8a2ad6' stroke-dasharray='4 3'/>",
                            x, MARGIN_PX, x, MARGIN_PX + plotH));
                    svg.append(String.format(Locale.ROOT, "<text x='%.1f' y='%.0f' fill='#8a2ad6'>%s e%d</text>",
                            x + 2, MARGIN_PX + plotH - 4, esc(e.replica()), e.epoch()));
                }
            }
        }
        svg.append("</svg>");
        return "<!doctype html><html><head><meta charset='utf-8'><title>Tandem chaos run</title></head><body style='font-family:sans-serif'>"
                + "<h1>Tandem chaos run</h1>"
                + "<p><span style='color:#2a9d3f'>&#9632; writes ok/s</span> &nbsp; <span style='color:#2a6fd6'>&#9632; reads ok/s</span> &nbsp; "
                + "<span style='color:#d62a2a'>&#9632; failed or unknown/s</span> &nbsp; <span style='color:#e08a00'>| fault</span> &nbsp; "
                + "<span style='color:#8a2ad6'>&#166; leader change (replica, epoch)</span></p>"
                + svg + "<pre>" + esc(report) + "</pre></body></html>";
    }

    private static void series(StringBuilder svg, double[] v, double perSecond, double max, int n, double plotW, double plotH,
                               String color, String title) {
        List<String> pts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double x = MARGIN_PX + plotW * ((i + 0.5) / n);
            double y = MARGIN_PX + plotH - plotH * (v[i] * perSecond / max);
            pts.add(String.format(Locale.ROOT, "%.1f,%.1f", x, y));
        }
        svg.append("<polyline fill='none' stroke='").append(color).append("' stroke-width='1.5' points='")
                .append(String.join(" ", pts)).append("'><title>").append(title).append("</title></polyline>");
    }

    static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;");
    }
}
