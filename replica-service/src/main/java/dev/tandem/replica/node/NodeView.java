package dev.tandem.replica.node;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.replica.core.CoreStatus;
import java.util.Map;

/**
 * What the driver thread last published about the replica: an immutable snapshot that gRPC
 * handlers, health checks and metrics read without touching the core.
 */
public record NodeView(
        CoreStatus status,
        LogPosition applied,
        long receivedLsn,
        long flushedLsn,
        long appliedLsn,
        EpochHistory history,
        Map<String, String> addresses,
        long rolledBackEntries,
        long publishedAtMs) {

    public String leaderAddress() {
        String id = status.leaderId();
        return id == null || id.isEmpty() ? "" : addresses.getOrDefault(id, "");
    }
}
