package dev.tandem.controller.engine;

/** A required step could not be done now (the replica refused or did not answer); retried next round. */
public final class StepFailedException extends Exception {
    public StepFailedException(String message) {
        super(message);
    }
}
