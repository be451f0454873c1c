package dev.tandem.replica.core;

import dev.tandem.common.EpochHistory;
import java.util.List;

/**
 * The replica's identity in the cluster that must survive a crash: the highest epoch seen,
 * the epoch history of its log, and whom it leads or follows. Whenever the core returns a new
 * DurableMeta, the driver persists it (fsync) before acting on the command or sending anything.
 */
public record DurableMeta(long epoch, EpochHistory history, Role role, String leaderId, List<String> members) {

    public DurableMeta {
        members = List.copyOf(members);
        leaderId = leaderId == null ? "" : leaderId;
    }

    public static DurableMeta initial() {
        return new DurableMeta(0, EpochHistory.empty(), Role.UNASSIGNED, "", List.of());
    }
}
