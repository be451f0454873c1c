package dev.tandem.replica.grpc;

import com.google.protobuf.ByteString;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.ChangeEvent;
import dev.tandem.proto.ChangesRequest;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KeyValue;
import dev.tandem.proto.KvCall;
import dev.tandem.proto.KvResult;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.ScanRequest;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.replica.core.Role;
import dev.tandem.replica.kv.KvError;
import dev.tandem.replica.kv.RequestFingerprint;
import dev.tandem.replica.kv.WriteValidator;
import dev.tandem.replica.node.ChangeFeed;
import dev.tandem.replica.node.NodeView;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import dev.tandem.replica.storage.ReplicaStore;
import dev.tandem.replica.storage.StoredValue;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Router-facing reads and writes. Writes are validated here (pure, on the caller's thread) and
 * handed to the driver; reads are served straight from RocksDB once the request's
 * {@link ReadRequirement} holds. Expected failures travel in the response's {@code error}.
 */
@GrpcService
public class KvGrpcService extends KvServiceGrpc.KvServiceImplBase {

    private final ReplicaLifecycle lifecycle;

    public KvGrpcService(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    public void write(WriteRequest request, StreamObserver<WriteResponse> out) {
        write(request, CallerDeadlineInterceptor.budgetMs(), resp -> reply(out, resp));
    }

    @Override
    public void get(GetRequest request, StreamObserver<GetResponse> out) {
        get(request, CallerDeadlineInterceptor.budgetMs(), resp -> reply(out, resp));
    }

    /**
     * Write and Get multiplexed on one stream. Answers go out as they are ready, in any order,
     * tagged with the call's id; a late answer is harmless here (the caller drops ids it no longer
     * waits for) but waits are still capped by the call's timeout so a NOT_CONFIRMED or
     * NOT_CAUGHT_UP reaches it in time.
     */
    @Override
    public StreamObserver<KvCall> pipeline(StreamObserver<KvResult> out) {
        // Answers come from the event loop (reads), the driver (writes) and the applied-position
        // watcher (waiting reads): one at a time on the stream.
        Consumer<KvResult> send = r -> {
            synchronized (out) {
                try {
                    out.onNext(r);
                } catch (RuntimeException e) {
                    // The caller closed the stream; it no longer waits for this answer.
                }
            }
        };
        return new StreamObserver<>() {
            @Override
            public void onNext(KvCall call) {
                long budgetMs = call.getTimeoutMs() == 0 ? Long.MAX_VALUE
                        : TimeUnit.NANOSECONDS.toMillis(CallerDeadlineInterceptor.answerWithinNanos(
                                TimeUnit.MILLISECONDS.toNanos(call.getTimeoutMs())));
                KvResult.Builder result = KvResult.newBuilder().setCallId(call.getCallId());
                switch (call.getCallCase()) {
                    case WRITE -> write(call.getWrite(), budgetMs, w -> send.accept(result.setWrite(w).build()));
                    case GET -> get(call.getGet(), budgetMs, g -> send.accept(result.setGet(g).build()));
                    default -> send.accept(result.setError(Protos.error(ErrorCode.INVALID_ARGUMENT,
                            "a pipelined call carries a write or a get")).build());
                }
            }

            @Override
            public void onError(Throwable t) {
                // The caller went away; answers still being prepared are dropped by send.
            }

            @Override
            public void onCompleted() {
                synchronized (out) {
                    try {
                        out.onCompleted();
                    } catch (RuntimeException e) {
                        // Already gone.
                    }
                }
            }
        };
    }

    private void write(WriteRequest request, long budgetMs, Consumer<WriteResponse> reply) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            reply.accept(WriteResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE, "replica starting")).build());
            return;
        }
        var s = node.settings();
        Optional<KvError> invalid = new WriteValidator(s.maxKeyBytes(), s.maxValueBytes(), s.maxBatchOps(), s.maxBatchBytes())
                .validate(request);
        if (invalid.isPresent()) {
            lifecycle.metrics().write(Protos.concernOrDefault(request.getWriteConcern(), s.defaultWriteConcern()), "rejected", -1);
            reply.accept(WriteResponse.newBuilder().setError(invalid.get().toProto()).setServedBy(s.id()).build());
            return;
        }
        long confirmMs = request.getConfirmTimeoutMs() > 0 ? request.getConfirmTimeoutMs() : s.confirmTimeoutMs();
        if (budgetMs < confirmMs) {
            // Answer NOT_CONFIRMED (with the position) while the caller still listens.
            request = request.toBuilder().setConfirmTimeoutMs((int) Math.max(1, budgetMs)).build();
        }
        ByteString fingerprint = request.getRequestId().isEmpty() ? ByteString.EMPTY : RequestFingerprint.of(request);
        boolean queued = node.offer(new ReplicaNode.ClientWrite(request, fingerprint, System.nanoTime(), reply));
        if (!queued) {
            reply.accept(WriteResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE,
                    "replica overloaded: " + s.inboxCapacity() + " requests already queued")).setServedBy(s.id()).build());
        }
    }

    private void get(GetRequest request, long budgetMs, Consumer<GetResponse> reply) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            reply.accept(GetResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE, "replica starting")).build());
            return;
        }
        if (request.getKey().isEmpty() || request.getKey().getBytes(StandardCharsets.UTF_8).length > node.settings().maxKeyBytes()) {
            reply.accept(GetResponse.newBuilder().setError(Protos.error(request.getKey().isEmpty() ? ErrorCode.INVALID_ARGUMENT
                    : ErrorCode.KEY_TOO_LARGE, request.getKey().isEmpty() ? "empty key" : "key over "
                    + node.settings().maxKeyBytes() + " bytes")).setServedBy(node.settings().id()).build());
            return;
        }
        whenReadable(node, request.getRead(), budgetMs, err -> {
            GetResponse.Builder b = GetResponse.newBuilder().setServedBy(node.settings().id());
            if (err != null) {
                reply.accept(b.setError(err).build());
                return;
            }
            // Applied position first, value second: the value is at least as new as what we report.
            LogPosition applied = node.store().applied();
            Optional<StoredValue> v = node.store().get(request.getKey());
            b.setApplied(applied.toProto()).setFound(v.isPresent());
            v.ifPresent(sv -> b.setValue(com.google.protobuf.ByteString.copyFrom(sv.value()))
                    .setContentType(sv.contentType()).setVersion(sv.version().toProto()));
            reply.accept(b.build());
        });
    }

    @Override
    @Blocking
    public void scan(ScanRequest request, StreamObserver<ScanResponse> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            reply(out, ScanResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE, "replica starting")).build());
            return;
        }
        int max = node.settings().maxScanLimit();
        int limit = request.getLimit() == 0 ? max : Math.min(request.getLimit(), max);
        whenReadable(node, request.getRead(), CallerDeadlineInterceptor.budgetMs(), err -> {
            ScanResponse.Builder b = ScanResponse.newBuilder().setServedBy(node.settings().id());
            if (err != null) {
                reply(out, b.setError(err).build());
                return;
            }
            ReplicaStore.ScanPage page = node.store().scan(request.getPrefix(), request.getCursor(), limit, node.settings().maxScanPageBytes());
            for (ReplicaStore.KeyState ks : page.items()) {
                b.addItems(KeyValue.newBuilder().setKey(ks.key()).setValue(com.google.protobuf.ByteString.copyFrom(ks.value().value()))
                        .setContentType(ks.value().contentType()).setVersion(ks.value().version().toProto()));
            }
            reply(out, b.setNextCursor(page.nextCursor()).setApplied(page.applied().toProto()).build());
        });
    }

    /**
     * A router's read cache follows this replica's applied changes. Events are written by the
     * feed's sender thread as the stream becomes ready; the stream ends when the feed ends it
     * (truncation, snapshot, reader behind, shutdown) or the router cancels.
     */
    @Override
    public void changes(ChangesRequest request, StreamObserver<ChangeEvent> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            out.onError(io.grpc.Status.UNAVAILABLE.withDescription("replica starting").asRuntimeException());
            return;
        }
        ServerCallStreamObserver<ChangeEvent> stream = (ServerCallStreamObserver<ChangeEvent>) out;
        ChangeFeed.Subscription sub = node.changeFeed().subscription(new ChangeFeed.Sink() {
            @Override
            public boolean isReady() {
                return stream.isReady() && !stream.isCancelled();
            }

            @Override
            public void send(ChangeEvent event) {
                try {
                    stream.onNext(event);
                } catch (RuntimeException e) {
                    // Cancelled meanwhile: the cancel handler removes the subscription.
                }
            }

            @Override
            public void end(io.grpc.Status status) {
                try {
                    stream.onError(status.asRuntimeException());
                } catch (RuntimeException e) {
                    // Already gone.
                }
            }
        }, request.getHeartbeatMs());
        stream.setOnReadyHandler(sub::drain);
        stream.setOnCancelHandler(sub::cancelled);
        node.changeFeed().start(sub, node.nowMs());
    }

    @Override
    public void info(InfoRequest request, StreamObserver<ReplicaInfo> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null || node.view() == null) {
            out.onError(io.grpc.Status.UNAVAILABLE.withDescription("replica starting").asRuntimeException());
            return;
        }
        reply(out, Protos.info(node, node.view()));
    }

    /**
     * Calls {@code serve} with null once {@code r} holds here, or with the error that says why it
     * cannot: require_leader (leader holding its lease), max_staleness_ms (a streaming follower
     * within the bound), min_position (applied here by epoch-history coverage, waiting up to wait_ms).
     */
    private static void whenReadable(ReplicaNode node, ReadRequirement r, long budgetMs, Consumer<Error> serve) {
        NodeView v = node.view();
        Role role = v.status().role();
        if (r.getRequireLeader()) {
            if (role != Role.LEADER) {
                serve.accept(Error.newBuilder().setCode(ErrorCode.NOT_LEADER).setMessage("strong reads go to the leader")
                        .setLeaderId(v.status().leaderId()).setLeaderAddress(v.leaderAddress()).setOpIndex(-1).build());
                return;
            }
            if (!v.status().acceptingWrites()) {
                serve.accept(Protos.error(ErrorCode.LEASE_EXPIRED, "leader does not hold its lease (or is stepping down)"));
                return;
            }
        }
        if (r.getMaxStalenessMs() > 0 && role != Role.LEADER) {
            if (role != Role.FOLLOWER || !v.status().streaming() || v.status().stalenessMs() > r.getMaxStalenessMs()) {
                serve.accept(Protos.error(ErrorCode.NOT_CAUGHT_UP, "replica is " + (v.status().streaming()
                        ? v.status().stalenessMs() + " ms stale" : "not streaming from a leader")
                        + "; the bound is " + r.getMaxStalenessMs() + " ms"));
                return;
            }
        }
        if (!r.hasMinPosition() || r.getMinPosition().getLsn() == 0) {
            serve.accept(null);
            return;
        }
        if (r.getMinPosition().getEpoch() < 0 || r.getMinPosition().getLsn() < 0) {
            serve.accept(Protos.error(ErrorCode.INVALID_ARGUMENT, "min_position is out of range"));
            return;
        }
        LogPosition want = LogPosition.of(r.getMinPosition());
        EpochHistory.Coverage c = node.store().meta().history().coverage(want, node.store().applied().lsn());
        if (c != EpochHistory.Coverage.PENDING || r.getWaitMs() == 0) {
            serve.accept(coverageError(c, want, node));
            return;
        }
        long waitMs = Math.min(Math.min(r.getWaitMs(), node.settings().maxReadWaitMs()), budgetMs);
        node.appliedWatch().await(want, node.nowMs() + waitMs)
                .whenComplete((cov, ex) -> serve.accept(ex != null
                        ? Protos.error(ErrorCode.INTERNAL, String.valueOf(ex.getMessage())) : coverageError(cov, want, node)));
    }

    private static Error coverageError(EpochHistory.Coverage c, LogPosition want, ReplicaNode node) {
        return switch (c) {
            case COVERED -> null;
            case LOST -> Error.newBuilder().setCode(ErrorCode.SESSION_WRITE_LOST).setPosition(want.toProto()).setOpIndex(-1)
                    .setMessage("position " + want + " was rolled back in a failover: the write it names is lost").build();
            default -> Error.newBuilder().setCode(ErrorCode.NOT_CAUGHT_UP).setPosition(node.store().applied().toProto()).setOpIndex(-1)
                    .setMessage("replica has applied " + node.store().applied() + ", not yet " + want).build();
        };
    }

    static <T> void reply(StreamObserver<T> out, T value) {
        try {
            out.onNext(value);
            out.onCompleted();
        } catch (RuntimeException e) {
            // The client cancelled or went away; nothing to answer.
        }
    }
}
