package dev.tandem.common;

import dev.tandem.proto.WriteConcern;
import java.util.Locale;

/** Parsing and meaning of write concerns, shared by the replica, the router and the CLI. */
public final class WriteConcerns {

    private WriteConcerns() {}

    /** Parses {@code leader | one | majority | all} (case-insensitive). */
    public static WriteConcern parse(String text) {
        switch (text == null ? "" : text.trim().toLowerCase(Locale.ROOT)) {
            case "leader": return WriteConcern.WRITE_CONCERN_LEADER;
            case "one": return WriteConcern.WRITE_CONCERN_ONE;
            case "majority": return WriteConcern.WRITE_CONCERN_MAJORITY;
            case "all": return WriteConcern.WRITE_CONCERN_ALL;
            default:
                throw new IllegalArgumentException("write concern must be one of leader, one, majority, all; got '" + text + "'");
        }
    }

    public static String name(WriteConcern concern) {
        switch (concern) {
            case WRITE_CONCERN_LEADER: return "leader";
            case WRITE_CONCERN_ONE: return "one";
            case WRITE_CONCERN_MAJORITY: return "majority";
            case WRITE_CONCERN_ALL: return "all";
            default: return "default";
        }
    }

    /**
     * How many members, the leader included, must have flushed an entry before a write with this
     * concern is acknowledged. Never weakened to fit a small cluster: a concern the cluster
     * cannot meet times out with NOT_CONFIRMED, as PostgreSQL's synchronous commit would wait.
     */
    public static int requiredCopies(WriteConcern concern, int members) {
        switch (concern) {
            case WRITE_CONCERN_LEADER: return 1;
            case WRITE_CONCERN_ONE: return 2;
            case WRITE_CONCERN_MAJORITY: return members / 2 + 1;
            case WRITE_CONCERN_ALL: return members;
            default: throw new IllegalArgumentException("resolve the default write concern first: " + concern);
        }
    }
}
