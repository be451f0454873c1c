package dev.tandem.controller.state;

/**
 * The state changed since it was read (another controller wrote it, or ours is stale). An
 * operating condition, not a bug: re-read and plan again.
 */
public final class CasConflictException extends Exception {
    public CasConflictException(String message) {
        super(message);
    }
}
