package dev.tandem.controller.engine;

/**
 * The outcome of a switchover request. {@code status} is an HTTP status: 200 done, 409 refused
 * (another transition, candidate not ready), 503 this controller is not the active one, 500 the
 * transition stopped half-way (the controller carries on with it by itself).
 */
public record SwitchoverResult(int status, String outcome, String failoverId, long epoch, String from, String to,
                               String message) {}
