package dev.tandem.controller.engine;

/**
 * The outcome of a switchover request. {@code status} is an HTTP status: 200 done; 400 unknown
 * replica ({@code outcome} {@code unknown_replica}); 409 refused before anything changed
 * ({@code refused}, {@code target_unavailable}: no epoch burned, the leader keeps writing) or
 * fell back ({@code fallback}: the old leader leads again, in a new epoch, nothing lost); 503
 * this controller is not the active one; 500 the transition stopped half-way (the controller
 * carries on with it by itself).
 *
 * @param epoch      the epoch recorded when the request ended (the new leader's on success)
 * @param to         the leader when the request ended (the requested or chosen target on refusals)
 * @param candidates the followers of the leader as probed when the request arrived, most
 *                   advanced first ({@code id=epoch.flushedLsn}, {@code (not streaming)} after one
 *                   that is not streaming and so cannot be chosen): what an automatic choice ranked
 * @param tookMs     request received -> answered, in ms
 */
public record SwitchoverResult(int status, String outcome, String failoverId, long epoch, String from, String to,
                               String message, String candidates, long tookMs) {

    static SwitchoverResult of(int status, String outcome, String failoverId, long epoch, String from, String to,
                               String message) {
        return new SwitchoverResult(status, outcome, failoverId, epoch, from, to, message, null, 0);
    }

    SwitchoverResult with(String candidates, long tookMs) {
        return new SwitchoverResult(status, outcome, failoverId, epoch, from, to, message, candidates, tookMs);
    }
}
