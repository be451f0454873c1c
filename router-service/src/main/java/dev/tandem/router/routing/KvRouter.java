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
import dev.tandem.router.cache.FollowerCaches;
import dev.tandem.router.cache.ReadCache;
import dev.tandem.router.config.RouterSettings;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.topology.ReplicaEndpoint;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import dev.tandem.router.topology.TopologyService;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import jakarta.inject.Singleton;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Sends each request to the replica its kind and consistency call for, and handles the expected
 * answers: a follower not caught up (the leader serves), a leader that moved (follow the hint
 * once), a leader replaced while a write is in flight to it (hand the write over once), no leader
 * (503). Everything is asynchronous; no thread waits on a replica.
 */
@Singleton
public class KvRouter {

    public static final String ROLE_LEADER = "leader";
    public static final String ROLE_FOLLOWER = "follower";
    /** A follower's read cache in the router answered (see {@link ReadCache}). */
    public static final String ROLE_CACHE = "follower-cache";
    private static final Logger LOG = Logger.getLogger(KvRouter.class);

    private final TopologyService topology;
    private final RouterSettings settings;
    private final RouterMetrics metrics;
    private final FollowerCaches caches;

    public KvRouter(TopologyService topology, RouterMetrics metrics, FollowerCaches caches) {
        this.topology = topology;
        this.settings = topology.settings();
        this.metrics = metrics;
        this.caches = caches;
    }

    public CompletableFuture<Served<GetResponse>> get(String key, Consistency consistency, SessionToken token) {
        Optional<ReadCache> cache = readCache(consistency, token);
        if (cache.isEmpty()) {
            return getFromReplicas(key, consistency, token);
        }
        ReadCache c = cache.get();
        ReadCache.Hit hit = c.lookup(key, consistency.level() == Consistency.Level.SESSION ? token.position() : null,
                System.nanoTime(), caches.maxSilenceNanos());
        caches.recordLookup(hit != null);
        if (hit != null) {
            return CompletableFuture.completedFuture(new Served<>(hit.response(), c.replicaId(), ROLE_CACHE, hit.position(), 0));
        }
        long generation = c.generation();
        return getFromReplicas(key, consistency, token).thenApply(served -> {
            if (ROLE_FOLLOWER.equals(served.role()) && c.replicaId().equals(served.servedBy())) {
                c.offer(key, served.response(), served.position(), generation);
            }
            return served;
        });
    }

    /**
     * The read cache of the follower this read would go to first, if the level allows one: a
     * session read (the cache must have applied the token) or an eventual one. Strong reads need
     * the leader; bounded ones a staleness the cache does not track.
     */
    private Optional<ReadCache> readCache(Consistency consistency, SessionToken token) {
        Consistency.Level level = consistency.level();
        if (!caches.enabled() || (level != Consistency.Level.SESSION && level != Consistency.Level.EVENTUAL)) {
            return Optional.empty();
        }
        return ReadPlanner.plan(topology.current(), consistency, token, settings.sessionWaitMs()).follower().flatMap(caches::of);
    }

    private CompletableFuture<Served<GetResponse>> getFromReplicas(String key, Consistency consistency, SessionToken token) {
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
     *
     * <p>A leader that stops answering without refusing (cut off by a partition, hung) is handed
     * over: while the write is in flight to leader L of epoch e, the first poll that finds another
     * replica leading an epoch above e makes the router forget the call to L and send the same
     * WriteRequest, with the same request id, to the new leader; at most once per write, and the
     * whole write, every attempt included, stays within {@code write-timeout-ms}. Without it the
     * write waited out the full deadline although the new leader took writes within two seconds.
     *
     * <p>Why that cannot apply the write twice. The router always sends a request id (the
     * client's Idempotency-Key or one it makes up), and a replica records the id of every entry it
     * appends or receives, so a new leader's idempotency window covers its whole recent log. Either:
     * <ul>
     * <li>the new leader holds the entry (L shipped it before the cut): it finds the id and answers
     * {@code replayed=true} with the entry's original position, waiting for the write concern on
     * that position as for any retry; or</li>
     * <li>it does not: then the entry exists only on L and on followers that have not yet followed
     * the new leader. L is fenced (the followers of epoch above e refuse its appends), and a replica
     * that follows the new leader truncates every entry of e the new leader lacks on rejoin. So a
     * history containing the new leader's copy can never also contain L's (logs that agree on a
     * position agree on everything before it), the old copy is never committed in the new history,
     * and applying the write anew is its only surviving copy. The old copy was never acknowledged:
     * its answer, if it ever comes, is for a call the router has forgotten.</li>
     * </ul>
     */
    public CompletableFuture<Served<WriteResponse>> write(WriteRequest request, Function<Error, ErrorCode> remap) {
        WriteCall w = new WriteCall(request, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settings.writeTimeoutMs()));
        return leaderTarget().thenCompose(first -> attemptWrite(first, w, true)).thenApply(resp -> {
            Error e = resp.getError();
            if (e.getCode() != ErrorCode.OK) {
                throw RouterException.fromReplica(e, resp.getServedBy(), remap.apply(e));
            }
            return new Served<>(resp, resp.getServedBy(), ROLE_LEADER, LogPosition.of(resp.getPosition()), w.replicaNanos);
        });
    }

    /** A leader to send a write to, and the epoch it leads as far as the router knows (a lower bound). */
    record WriteTarget(ReplicaEndpoint endpoint, long epoch) {
        String id() {
            return endpoint.id();
        }
    }

    /**
     * One write across its attempts. The attempts run one after another (each starts from the
     * previous one's completion), so the fields are never written concurrently.
     */
    private static final class WriteCall {
        final WriteRequest request;
        final long deadlineNanos;
        volatile long replicaNanos;
        /** The one hand-over to a newer leader has been used. */
        volatile boolean handedOver;

        WriteCall(WriteRequest request, long deadlineNanos) {
            this.request = request;
            this.deadlineNanos = deadlineNanos;
        }

        long remainingMs() {
            return TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        }
    }

    private CompletableFuture<WriteResponse> attemptWrite(WriteTarget target, WriteCall w, boolean mayFollowHint) {
        long remainingMs = w.remainingMs();
        if (remainingMs <= 0) {
            return CompletableFuture.failedFuture(unavailable(target, "did not answer within " + settings.writeTimeoutMs() + " ms"));
        }
        long start = System.nanoTime();
        CompletableFuture<WriteResponse> sent = target.endpoint().write(w.request, remainingMs);
        if (w.handedOver || w.request.getRequestId().isEmpty()) {
            // No second hand-over; and none at all without a request id (never the case: the API
            // always sets one), since only the id makes re-sending safe.
            return sent.handle((resp, err) -> answered(target, w, start, resp, err, mayFollowHint)).thenCompose(Function.identity());
        }
        CompletableFuture<WriteTarget> newer = newerLeader(target);
        AtomicBoolean decided = new AtomicBoolean();
        CompletableFuture<CompletableFuture<WriteResponse>> next = new CompletableFuture<>();
        sent.whenComplete((resp, err) -> {
            if (decided.compareAndSet(false, true)) {
                newer.cancel(false); // stop watching: nothing stays registered once the write is answered
                next.complete(answered(target, w, start, resp, err, mayFollowHint));
            }
        });
        newer.thenAccept(to -> {
            if (decided.compareAndSet(false, true)) {
                w.replicaNanos += System.nanoTime() - start;
                w.handedOver = true;
                sent.cancel(false); // forgets the call to the replaced leader (its answer, if any, is dropped)
                metrics.writeHandover();
                LOG.infof("write %s in flight to %s (epoch %d) for %d ms: handed over to the new leader %s (epoch %d)",
                        w.request.getRequestId(), target.id(), target.epoch(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start),
                        to.id(), to.epoch());
                next.complete(guarded(() -> attemptWrite(to, w, mayFollowHint)));
            }
        });
        return next.thenCompose(Function.identity());
    }

    /** What to do with a replica's answer (or failure) to one write attempt. Never throws. */
    private CompletableFuture<WriteResponse> answered(WriteTarget target, WriteCall w, long start, WriteResponse resp, Throwable err,
                                                     boolean mayFollowHint) {
        w.replicaNanos += System.nanoTime() - start;
        if (err != null) {
            Status.Code code = grpcCode(err);
            if (mayFollowHint && code == Status.Code.UNAVAILABLE) {
                return anotherLeader(target, null).thenCompose(next -> attemptWrite(next, w, false));
            }
            return CompletableFuture.failedFuture(unavailable(target, code == Status.Code.DEADLINE_EXCEEDED
                    ? "did not answer within " + settings.writeTimeoutMs() + " ms"
                    : "could not be reached (" + TopologyService.describe(err) + ")"));
        }
        if (mayFollowHint && resp.getError().getCode() == ErrorCode.NOT_LEADER) {
            return anotherLeader(target, resp.getError()).thenCompose(next -> attemptWrite(next, w, false));
        }
        return CompletableFuture.completedFuture(resp);
    }

    private static RouterException unavailable(WriteTarget target, String what) {
        return new RouterException(ErrorCode.UNAVAILABLE, "the leader " + target.id() + " " + what
                + "; the write may or may not have been applied: retry with the same Idempotency-Key to apply it exactly once");
    }

    /**
     * Completes with the leader that replaces {@code from}: another replica that the topology finds
     * leading an epoch above {@code from}'s. Never completes otherwise; cancel it when the write is
     * answered. If {@code from} itself turns up leading a newer epoch, its answer is still the one
     * to wait for, so the watch goes on above that epoch.
     */
    private CompletableFuture<WriteTarget> newerLeader(WriteTarget from) {
        CompletableFuture<WriteTarget> result = new CompletableFuture<>();
        watchLeader(from.id(), from.epoch(), result);
        return result;
    }

    private void watchLeader(String fromId, long above, CompletableFuture<WriteTarget> result) {
        CompletableFuture<Topology> rise = topology.leaderAbove(above);
        result.whenComplete((r, e) -> rise.cancel(false));
        rise.thenAccept(t -> {
            Optional<ReplicaView> to = handOverTarget(t, fromId, above);
            Optional<ReplicaEndpoint> ep = to.flatMap(v -> topology.endpoint(v.id()));
            if (ep.isPresent()) {
                result.complete(new WriteTarget(ep.get(), to.get().epoch()));
            } else if (!result.isDone()) {
                // t's leader is above `above` (that is what completed rise), so this terminates.
                watchLeader(fromId, t.leader().map(ReplicaView::epoch).orElse(above + 1), result);
            }
        });
    }

    /**
     * The leader a write in flight to {@code sentTo} (leading {@code sentEpoch}) should move to:
     * {@code t}'s write leader if it is another replica in a higher epoch. A pure function of the
     * topology, tested without processes.
     */
    static Optional<ReplicaView> handOverTarget(Topology t, String sentTo, long sentEpoch) {
        return t.leader().filter(l -> l.epoch() > sentEpoch && !l.id().equals(sentTo));
    }

    private static <T> CompletableFuture<T> guarded(Supplier<CompletableFuture<T>> attempt) {
        try {
            return attempt.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The leader to retry on after {@code failed}: the one its NOT_LEADER answer names, else a fresh poll's. */
    private CompletableFuture<WriteTarget> anotherLeader(WriteTarget failed, Error notLeader) {
        Optional<ReplicaEndpoint> hinted = notLeader == null ? Optional.empty()
                : topology.endpointForHint(notLeader.getLeaderId(), notLeader.getLeaderAddress()).filter(h -> !h.id().equals(failed.id()));
        if (hinted.isPresent()) {
            // The hinted leader leads at least the epoch of the one that named it; its own Info may be older.
            long epoch = Math.max(failed.epoch(), topology.current().byId(hinted.get().id()).map(ReplicaView::epoch).orElse(0L));
            return CompletableFuture.completedFuture(new WriteTarget(hinted.get(), epoch));
        }
        return topology.refreshNow().thenApply(t -> target(t)
                .filter(l -> !l.id().equals(failed.id()))
                .orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, "replica " + failed.id()
                        + (notLeader == null ? " could not be reached" : " no longer takes writes") + " and no other replica accepts them yet; "
                        + noLeaderDetail(t) + (notLeader == null ? "; the write may or may not have been applied: retry with the same Idempotency-Key" : ""))));
    }

    private Optional<WriteTarget> target(Topology t) {
        return t.leader().flatMap(l -> topology.endpoint(l.id()).map(ep -> new WriteTarget(ep, l.epoch())));
    }

    private CompletableFuture<WriteTarget> leaderTarget() {
        Optional<WriteTarget> known = target(topology.current());
        if (known.isPresent()) {
            return CompletableFuture.completedFuture(known.get());
        }
        // The picture may be one refresh old (a failover just happened): look again before saying 503.
        return topology.refreshNow().thenApply(t -> target(t).orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, noLeaderDetail(t))));
    }

    private CompletableFuture<ReplicaEndpoint> readLeaderEndpoint() {
        Optional<ReplicaEndpoint> known = topology.current().readLeader().flatMap(l -> topology.endpoint(l.id()));
        if (known.isPresent()) {
            return CompletableFuture.completedFuture(known.get());
        }
        return topology.refreshNow().thenApply(t -> t.readLeader().flatMap(l -> topology.endpoint(l.id()))
                .orElseThrow(() -> new RouterException(ErrorCode.NO_LEADER, "no leader to serve the read: " + noLeaderDetail(t))));
    }

    private static String noLeaderDetail(Topology t) {
        long healthy = t.replicas().stream().filter(ReplicaView::healthy).count();
        long lastKnownEpoch = t.replicas().stream().mapToLong(ReplicaView::epoch).max().orElse(0);
        return "no replica accepts writes right now (" + healthy + " of " + t.replicas().size()
                + " replicas answer; highest epoch seen " + lastKnownEpoch + "); a failover may be in progress";
    }

    private <Q, R> CompletableFuture<Served<R>> read(Consistency consistency, SessionToken token,
                                                      Function<ReadRequirement, Q> build,
                                                      BiFunction<ReplicaEndpoint, Q, CompletableFuture<R>> call,
                                                      Function<R, Error> errorOf, Function<R, Position> appliedOf,
                                                      Function<R, String> servedByOf) {
        if (checksToken(consistency) && token.position().epoch() > topology.current().highestEpoch()) {
            // A failover this router has not seen yet, or a position no replica will ever reach:
            // look again, and refuse for good only a token from an epoch no replica has heard of.
            return topology.refreshNow().thenCompose(t -> {
                if (noReplicaKnowsEpoch(t, token.position().epoch())) {
                    throw new RouterException(ErrorCode.SESSION_WRITE_LOST, "the session's position " + token.position()
                            + " is from epoch " + token.position().epoch() + ", which none of the " + t.replicas().size()
                            + " replicas has reached (highest " + t.highestEpoch() + "): the write it records is lost or the token"
                            + " comes from another cluster; drop the Tandem-Session header to start a new session",
                            token.position(), -1, "");
                }
                return readPlanned(consistency, token, build, call, errorOf, appliedOf, servedByOf);
            });
        }
        return readPlanned(consistency, token, build, call, errorOf, appliedOf, servedByOf);
    }

    /** Only when every replica answered can the router tell that none knows an epoch. */
    static boolean noReplicaKnowsEpoch(Topology t, long epoch) {
        return !t.replicas().isEmpty() && t.replicas().stream().allMatch(ReplicaView::healthy) && epoch > t.highestEpoch();
    }

    /** The levels that hold a read to the session's position. */
    private static boolean checksToken(Consistency consistency) {
        return consistency.level() == Consistency.Level.SESSION || consistency.level() == Consistency.Level.STRONG;
    }

    private <Q, R> CompletableFuture<Served<R>> readPlanned(Consistency consistency, SessionToken token,
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
        return !checksToken(consistency) || applied.getLsn() >= token.position().lsn();
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
