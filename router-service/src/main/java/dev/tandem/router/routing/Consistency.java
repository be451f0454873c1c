package dev.tandem.router.routing;

import java.util.Locale;

/**
 * The read consistency a request asks for (header {@code Tandem-Consistency}). See DESIGN.md,
 * "Reads and sessions".
 */
public record Consistency(Level level, long maxStalenessMs) {

    public enum Level {
        STRONG, BOUNDED, SESSION, EVENTUAL;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Largest staleness bound accepted, in ms (a day): beyond it "bounded" means nothing. */
    public static final long MAX_STALENESS_MS = 86_400_000L;

    public static final Consistency SESSION = new Consistency(Level.SESSION, 0);
    public static final Consistency STRONG = new Consistency(Level.STRONG, 0);
    public static final Consistency EVENTUAL = new Consistency(Level.EVENTUAL, 0);

    public Consistency {
        if (level == Level.BOUNDED && (maxStalenessMs < 1 || maxStalenessMs > MAX_STALENESS_MS)) {
            throw new IllegalArgumentException("max-staleness-ms must be in 1.." + MAX_STALENESS_MS + ", got " + maxStalenessMs);
        }
    }

    /**
     * Parses {@code strong | bounded;max-staleness-ms=N | session | eventual} (case-insensitive,
     * spaces around separators allowed); absent means {@code session}. Throws
     * IllegalArgumentException with the reason a client can act on.
     */
    public static Consistency parse(String header) {
        if (header == null || header.isBlank()) {
            return SESSION;
        }
        String[] parts = header.split(";");
        String name = parts[0].trim().toLowerCase(Locale.ROOT);
        switch (name) {
            case "strong":
            case "session":
            case "eventual":
                if (parts.length > 1) {
                    throw new IllegalArgumentException("Tandem-Consistency '" + name + "' takes no parameters, got '" + header + "'");
                }
                return name.equals("strong") ? STRONG : name.equals("session") ? SESSION : EVENTUAL;
            case "bounded":
                Long bound = null;
                for (int i = 1; i < parts.length; i++) {
                    String p = parts[i].trim();
                    int eq = p.indexOf('=');
                    String key = eq < 0 ? p : p.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                    if (!key.equals("max-staleness-ms") || eq < 0) {
                        throw new IllegalArgumentException("Tandem-Consistency bounded takes max-staleness-ms=N, got '" + p + "'");
                    }
                    try {
                        bound = Long.parseLong(p.substring(eq + 1).trim());
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("max-staleness-ms must be a whole number of milliseconds, got '" + p.substring(eq + 1).trim() + "'");
                    }
                }
                if (bound == null) {
                    throw new IllegalArgumentException("Tandem-Consistency bounded needs max-staleness-ms=N, e.g. 'bounded;max-staleness-ms=500'");
                }
                return new Consistency(Level.BOUNDED, bound);
            default:
                throw new IllegalArgumentException("Tandem-Consistency must be strong, bounded;max-staleness-ms=N, session or eventual; got '" + header + "'");
        }
    }

    @Override
    public String toString() {
        return level == Level.BOUNDED ? "bounded;max-staleness-ms=" + maxStalenessMs : level.label();
    }
}
