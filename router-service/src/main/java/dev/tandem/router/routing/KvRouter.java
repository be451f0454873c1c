package dev.tandem.router.routing;

import dev.tandem.common.LogPosition;
import dev.tandem.common.SessionToken;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.Position;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ScanRequest;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.router.config.RouterSettings;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.topology.ReplicaEndpoint;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import dev.tandem.router.topology.TopologyService;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Sends each request to the replica its kind and consistency call for, and handles the expected
 * answers: a follower not caught up (the leader serves), a leader that moved (follow the hint
 * once), no leader (503). Everything is asynchronous; no thread waits on a replica.
 */
@ApplicationScoped
public class KvRouter {

    public static final String ROLE_LEADER = "leader";
    public static final String ROLE_FOLLOWER = "follower";

    private final TopologyService topology;
    private final RouterSettings settings;
    private final RouterMetrics metrics;

    public KvRouter(TopologyService topology, RouterMetrics metrics) {
        this.topology = topology;
        this.settings = topology.settings();
        this.metrics = metrics;
    }

    public CompletableFuture<Served<GetResponse>> get(String key, Consistency consistency, SessionToken token) {
        return read(consistency, token,
                req -> GetRequest.newBuilder().setKey(key).setRead(req).build(),
                (ep, r) -> ep.get(r, deadline(r.getRead())),
                GetResponse::getError, GetResponse::getApplied, GetResponse::getServedBy);
    }

    public CompletableFuture<Served<ScanResponse>> scan(String prefix, int limit, String cursor, Consistency consistency, SessionToken token) {
        return read(consistency, token,
                req -> ScanRequest.newBuilder().setPrefix(prefix).setLimit(limit).setCursor(cursor).setRead(req).build(),
                (ep, r) -> ep.scan(r, deadline(r.getRead())),
                ScanResponse::getError, ScanResponse::getApplied, ScanResponse::getServedBy);
    }

    /**
     * Sends a write to the leader. A NOT_LEADER answer is followed once to the leader it names (or
     * the one a fresh poll finds); so is a leader that cannot be reached at all (it died since the
     * last poll). The request id makes that one retry safe: a replica that already holds the entry
     * answers with the original outcome, and an entry that died with the old leader was never
     * acknowledged.
     */
    public CompletableFuture<Served<WriteResponse>> write(WriteRequest request, Function<Error, ErrorCode> remap) {
        long[] replicaNanos = {0};
        return leaderEndpoint().thenCompose(first -> attemptWrite(first, request, replicaNanos, true)).thenApply(resp -> {
            Error e = resp.getError();
            if (e.getCode() != ErrorCode.OK) {
                throw RouterException.fromReplica(e, resp.getServedBy(), remap.apply(e));
            }
            return new Served<>(resp, resp.getServedBy(), ROLE_LEADER, LogPosition.of(resp.getPosition()), replicaNanos[0]);
        });
    }

    private CompletableFuture<WriteResponse> attemptWrite(ReplicaEndpoint ep, WriteRequest request, long[] replicaNanos, boolean mayRetry) {
        long start = System.nanoTime();
        return ep.write(request, settings.writeTimeoutMs()).handle((resp, err) -> {
            replicaNanos[0] += System.nanoTime() - start;
            if (err != null) {
                Status.Code code = grpcCode(err);
                if (mayRetry && code == Status.Code.UNAVAILABLE) {
                    return anotherLeader(ep, null).thenCompose(next -> attemptWrite(next, request, replicaNanos, false));
                }
                String why = code == Status.Code.DEADLINE_EXCEEDED
                        ? "the leader " + ep.id() + " did not answer within " + settings.writeTimeoutMs() + " ms"
                        : "the leader " + ep.id() + " could not be reached (" + TopologyService.describe(err) + ")";
                throw new RouterException(ErrorCode.UNAVAILABLE, why + "; the write may or may not have been applied: "
                        + "retry with the same Idempotency-Key to apply it exactly once");
            }
            if (mayRetry && resp.getError().getCode() == ErrorCode.NOT_LEADER) {
                return anotherLeader(ep, resp.getError()).thenCompose(next -> attemptWrite(next, request, replicaNanos, false));
            }
            return CompletableFuture.completedFuture(resp);
        }).thenCompose(Function.identity());
    }

    /** The leader to retry on after {@code failed}: the one its NOT_LEADER answer names, else a fresh poll's. */
    private CompletableFuture<ReplicaEndpoint> anotherLeader(ReplicaEndpoint failed, Error notLeader) {
        Optional<ReplicaEndpoint> hinted = notLeader == null ? Optional.empty()
                : topology.endpointForHint(notLeader.getLeaderId(), notLeader.getLeaderAddress()).filter(h -> !h.id().equals(failed.id()));
        if (hinted.isPresent()) {
            return CompletableFuture.completedFuture(hinted.get());
        }
        return topology.refreshNow().thenApply(t -> t.leader().flatMap(l -> topology.endpoint(l.id()))
                .filter(l -> !l.id().equals(failed.id()))
                .orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, "replica " + failed.id()
                        + (notLeader == null ? " could not be reached" : " no longer takes writes") + " and no other replica accepts them yet; "
                        + noLeaderDetail(t) + (notLeader == null ? "; the write may or may not have been applied: retry with the same Idempotency-Key" : ""))));
    }

    private CompletableFuture<ReplicaEndpoint> leaderEndpoint() {
        Optional<ReplicaEndpoint> known = topology.current().leader().flatMap(l -> topology.endpoint(l.id()));
        if (known.isPresent()) {
            return CompletableFuture.completedFuture(known.get());
        }
        // The picture may be one refresh old (a failover just happened): look again before saying 503.
        return topology.refreshNow().thenApply(t -> t.leader().flatMap(l -> topology.endpoint(l.id()))
                .orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, noLeaderDetail(t))));
    }

    private CompletableFuture<ReplicaEndpoint> readLeaderEndpoint() {
        Optional<ReplicaEndpoint> known = topology.current().readLeader().flatMap(l -> topology.endpoint(l.id()));
        if (known.isPresent()) {
            return CompletableFuture.completedFuture(known.get());
        }
        return topology.refreshNow().thenApply(t -> t.readLeader().flatMap(l -> topology.endpoint(l.id()))
                .orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, noLeaderDetail(t))));
    }

    private static String noLeaderDetail(Topology t) {
        long healthy = t.replicas().stream().filter(ReplicaView::healthy).count();
        return "no replica accepts writes right now (" + healthy + " of " + t.replicas().size()
                + " replicas answer; highest epoch " + t.highestEpoch() + "); a failover may be in progress";
    }

    private <Q, R> CompletableFuture<Served<R>> read(Consistency consistency, SessionToken token,
                                                      Function<ReadRequirement, Q> build,
                                                      BiFunction<ReplicaEndpoint, Q, CompletableFuture<R>> call,
                                                      Function<R, Error> errorOf, Function<R, Position> appliedOf,
                                                      Function<R, String> servedByOf) {
        ReadPlan plan = ReadPlanner.plan(topology.current(), consistency, token, settings.sessionWaitMs());
        long[] replicaNanos = {0};
        if (plan.follower().isEmpty()) {
            metrics.leaderFallback(plan.noFollowerReason());
            return readFromLeader(consistency, token, build, call, errorOf, appliedOf, servedByOf, replicaNanos, true);
        }
        String followerId = plan.follower().get();
        Optional<ReplicaEndpoint> ep = topology.endpoint(followerId);
        if (ep.isEmpty()) {
            metrics.leaderFallback(ReadPlan.FallbackReason.PINNED_UNHEALTHY);
            return readFromLeader(consistency, token, build, call, errorOf, appliedOf, servedByOf, replicaNanos, true);
        }
        Q request = build.apply(requirement(consistency, token, plan.waitMs(), false));
        long start = System.nanoTime();
        return call.apply(ep.get(), request).handle((resp, err) -> {
            replicaNanos[0] += System.nanoTime() - start;
            ReadPlan.FallbackReason reason;
            if (err != null) {
                reason = ReadPlan.FallbackReason.PINNED_UNHEALTHY;
            } else {
                ErrorCode code = errorOf.apply(resp).getCode();
                if (code == ErrorCode.OK && coversToken(consistency, token, appliedOf.apply(resp))) {
                    return CompletableFuture.completedFuture(new Served<>(resp, nonEmpty(servedByOf.apply(resp), followerId),
                            ROLE_FOLLOWER, LogPosition.of(appliedOf.apply(resp)), replicaNanos[0]));
                }
                // NOT_CAUGHT_UP, or SESSION_WRITE_LOST from a follower: the leader has the last word on
                // both (a follower could be on a history the leader has already replaced).
                reason = code == ErrorCode.OK || code == ErrorCode.NOT_CAUGHT_UP || code == ErrorCode.SESSION_WRITE_LOST
                        ? ReadPlan.FallbackReason.NOT_CAUGHT_UP : ReadPlan.FallbackReason.PINNED_UNHEALTHY;
            }
            metrics.leaderFallback(reason);
            return readFromLeader(consistency, token, build, call, errorOf, appliedOf, servedByOf, replicaNanos, true);
        }).thenCompose(Function.identity());
    }

    private <Q, R> CompletableFuture<Served<R>> readFromLeader(Consistency consistency, SessionToken token,
                                                                Function<ReadRequirement, Q> build,
                                                                BiFunction<ReplicaEndpoint, Q, CompletableFuture<R>> call,
                                                                Function<R, Error> errorOf, Function<R, Position> appliedOf,
                                                                Function<R, String> servedByOf, long[] replicaNanos,
                                                                boolean mayFollowHint) {
        boolean strong = consistency.level() == Consistency.Level.STRONG;
        Q request = build.apply(requirement(consistency, token, settings.sessionWaitMs(), strong));
        return readLeaderEndpoint().thenCompose(leader -> {
            long start = System.nanoTime();
            return call.apply(leader, request).handle((resp, err) -> {
                replicaNanos[0] += System.nanoTime() - start;
                if (err != null) {
                    throw new RouterException(ErrorCode.UNAVAILABLE, "the leader " + leader.id() + " could not serve the read ("
                            + TopologyService.describe(err) + ")");
                }
                Error e = errorOf.apply(resp);
                String servedBy = nonEmpty(servedByOf.apply(resp), leader.id());
                if (e.getCode() == ErrorCode.NOT_LEADER && mayFollowHint) {
                    return topology.refreshNow().thenCompose(t -> readFromLeader(consistency, token, build, call, errorOf,
                            appliedOf, servedByOf, replicaNanos, false));
                }
                if (e.getCode() != ErrorCode.OK) {
                    throw RouterException.fromReplica(e, servedBy, null);
                }
                if (!coversToken(consistency, token, appliedOf.apply(resp))) {
                    throw new RouterException(ErrorCode.NOT_CAUGHT_UP, "replica " + servedBy + " answered at "
                            + LogPosition.of(appliedOf.apply(resp)) + ", behind the session's " + token.position(), null, -1, servedBy);
                }
                return CompletableFuture.completedFuture(new Served<>(resp, servedBy, ROLE_LEADER, LogPosition.of(appliedOf.apply(resp)), replicaNanos[0]));
            }).thenCompose(Function.identity());
        });
    }

    /**
     * A defence in depth for monotonic reads: the replica checked min_position against its own
     * history; an answer whose applied lsn is below the token's would mean it did not, and serving
     * it could take the session back in time.
     */
    static boolean coversToken(Consistency consistency, SessionToken token, Position applied) {
        if (consistency.level() != Consistency.Level.SESSION && consistency.level() != Consistency.Level.STRONG) {
            return true;
        }
        return applied.getLsn() >= token.position().lsn();
    }

    static ReadRequirement requirement(Consistency consistency, SessionToken token, long waitMs, boolean requireLeader) {
        ReadRequirement.Builder r = ReadRequirement.newBuilder();
        switch (consistency.level()) {
            case STRONG:
                // Linearizable on the leader; the token still guards against a leader that lost the session's write.
                // (the wait covers a leader that applies its own entries just after acknowledging them).
                r.setRequireLeader(true).setMinPosition(token.position().toProto()).setWaitMs((int) waitMs);
                break;
            case SESSION:
                r.setMinPosition(token.position().toProto()).setWaitMs((int) waitMs);
                break;
            case BOUNDED:
                r.setMaxStalenessMs(consistency.maxStalenessMs());
                break;
            case EVENTUAL:
            default:
                break;
        }
        r.setRequireLeader(requireLeader);
        return r.build();
    }

    private long deadline(ReadRequirement r) {
        return settings.readTimeoutMs() + r.getWaitMs();
    }

    private static String nonEmpty(String s, String fallback) {
        return s == null || s.isEmpty() ? fallback : s;
    }

    static Status.Code grpcCode(Throwable err) {
        Throwable t = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
        return t instanceof StatusRuntimeException s ? s.getStatus().getCode() : Status.Code.UNKNOWN;
    }
}
