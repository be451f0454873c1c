package dev.tandem.replica.core;

/**
 * Entries a leader may ship to one follower now: lsns {@code fromLsn..toLsn}, at most
 * {@code maxBytes} of them (the rest of the follower's in-flight budget). Empty when there is
 * nothing to send or the budget is spent.
 */
public record ShipWindow(long fromLsn, long toLsn, long maxBytes) {

    public boolean isEmpty() {
        return fromLsn > toLsn || maxBytes <= 0;
    }
}
