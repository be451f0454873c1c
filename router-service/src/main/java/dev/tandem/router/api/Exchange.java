package dev.tandem.router.api;

import dev.tandem.common.SessionToken;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.routing.KvRouter;
import dev.tandem.router.routing.RouterException;
import dev.tandem.router.routing.Served;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * One request from arrival to response: times it, counts it, and gives every answer (success or
 * problem) the session headers. Header parsing runs inside, so a bad header is a 400 like any other.
 */
final class Exchange {

    /** Turns a served answer into a response; may throw RouterException (e.g. 404 for a missing key). */
    @FunctionalInterface
    interface Render<T> {
        Reply apply(Served<T> served, SessionToken next);
    }

    /** The operations that write: their errors may carry the position of their own log entry. */
    private static final Set<String> WRITES = Set.of("put", "delete", "txn");

    private final RouterMetrics metrics;
    private final int retryAfterS;
    private final String operation;
    private final String sessionHeader;
    private final long startNanos = System.nanoTime();
    private String consistency = "none";

    Exchange(RouterMetrics metrics, int retryAfterS, String operation, String sessionHeader) {
        this.metrics = metrics;
        this.retryAfterS = retryAfterS;
        this.operation = operation;
        this.sessionHeader = sessionHeader;
    }

    /**
     * Parses the session header, then runs {@code call} with the token (the call may throw
     * RouterException while parsing its own inputs) and renders the outcome.
     */
    <T> CompletionStage<Reply> run(Function<SessionToken, CompletableFuture<Served<T>>> call, Render<T> render) {
        SessionToken token;
        CompletableFuture<Served<T>> f;
        try {
            token = TandemHeaders.session(sessionHeader).token();
        } catch (RouterException e) {
            // The token itself was bad: the answer carries a fresh one, as for a request without any.
            return CompletableFuture.completedFuture(fail(e, SessionToken.fresh()));
        }
        try {
            f = call.apply(token);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.handle((served, err) -> {
            if (err != null) {
                RouterException problem = Problems.classify(err);
                return fail(problem, writeIsInTheLog(problem) ? token.advancedTo(problem.position()) : token);
            }
            SessionToken next = token.advancedTo(served.position());
            Reply reply;
            try {
                reply = render.apply(served, next);
            } catch (RuntimeException e) {
                RouterException problem = Problems.classify(e);
                metrics.request(operation, consistency, served.role(), problem.code().name(), System.nanoTime() - startNanos, served.replicaNanos());
                // A problem found after a replica answered (e.g. 404) names that replica, not the router.
                return Problems.reply(problem, next, retryAfterS).replaceHeader(TandemHeaders.SERVED_BY, served.servedBy());
            }
            metrics.request(operation, consistency, served.role(), "ok", System.nanoTime() - startNanos, served.replicaNanos());
            return reply.header(TandemHeaders.SESSION, next.toString())
                    .header(TandemHeaders.POSITION, served.position().toString())
                    .header(TandemHeaders.SERVED_BY, served.servedBy());
        });
    }

    /**
     * A write's error that names a position (NOT_CONFIRMED: durable on the leader, concern not yet
     * met) names the write's own log entry: the session includes it, or a read in the same session
     * could miss it. Should a failover lose it, that read gets SESSION_WRITE_LOST, never stale data.
     * A read's error position (SESSION_WRITE_LOST's lost position) must not move the token.
     */
    private boolean writeIsInTheLog(RouterException problem) {
        return problem.position() != null && WRITES.contains(operation);
    }

    void consistency(String label) {
        this.consistency = label;
    }

    private Reply fail(RouterException e, SessionToken token) {
        // Errors that reach the client came from the leader (followers' errors end in a fallback) or from the router itself.
        String role = e.servedBy().isEmpty() ? "none" : KvRouter.ROLE_LEADER;
        metrics.request(operation, consistency, role, e.code().name(), System.nanoTime() - startNanos, 0);
        return Problems.reply(e, token, retryAfterS);
    }
}
