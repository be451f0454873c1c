package dev.tandem.replica.grpc;

import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowRequest;
import dev.tandem.proto.FollowResponse;
import dev.tandem.proto.PromoteRequest;
import dev.tandem.proto.PromoteResponse;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.StepDownRequest;
import dev.tandem.proto.StepDownResponse;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.concurrent.TimeUnit;

/**
 * Controller and operator commands. The cluster secret is checked by
 * {@link ClusterSecretInterceptor}; epochs are checked by the core; answers carry the replica's
 * last position so the controller can compare candidates.
 */
@GrpcService
public class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {

    /** Longest an admin command may wait for the driver thread, in seconds. */
    static final long COMMAND_TIMEOUT_S = 10;

    private final ReplicaLifecycle lifecycle;

    public AdminGrpcService(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    @Blocking
    public void status(StatusRequest request, StreamObserver<StatusResponse> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            KvGrpcService.reply(out, StatusResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE, "replica starting")).build());
            return;
        }
        try {
            var v = node.freshView().get(COMMAND_TIMEOUT_S, TimeUnit.SECONDS);
            KvGrpcService.reply(out, Protos.status(node, v, request.getIncludeDigest()));
        } catch (Exception e) {
            KvGrpcService.reply(out, StatusResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE,
                    "status not available: " + e)).build());
        }
    }

    @Override
    public void promote(PromoteRequest request, StreamObserver<PromoteResponse> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null || request.getEpoch() <= 0) {
            KvGrpcService.reply(out, PromoteResponse.newBuilder().setError(node == null
                    ? Protos.error(ErrorCode.UNAVAILABLE, "replica starting")
                    : Protos.error(ErrorCode.INVALID_ARGUMENT, "promote needs an epoch > 0")).build());
            return;
        }
        node.promote(request.getEpoch(), request.getMembersList(), request.getFailoverId()).orTimeout(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)
                .whenComplete((o, ex) -> {
                    PromoteResponse.Builder b = PromoteResponse.newBuilder();
                    if (ex != null) {
                        b.setError(Protos.error(ErrorCode.UNAVAILABLE, "promote did not complete: " + ex));
                    } else {
                        b.setLast(o.last().toProto());
                        if (o.code() != ErrorCode.OK) {
                            b.setError(Protos.error(o.code(), o.reason()));
                        }
                    }
                    KvGrpcService.reply(out, b.build());
                });
    }

    @Override
    public void follow(FollowRequest request, StreamObserver<FollowResponse> out) {
        ReplicaNode node = lifecycle.node();
        String invalid = node == null ? null
                : request.getEpoch() <= 0 ? "follow needs an epoch > 0"
                : request.getLeader().getId().isEmpty() || request.getLeader().getAddress().isEmpty() ? "follow needs a leader id and address"
                : request.getLeader().getId().equals(node.settings().id()) ? "a replica cannot follow itself" : null;
        if (node == null || invalid != null) {
            KvGrpcService.reply(out, FollowResponse.newBuilder().setError(node == null
                    ? Protos.error(ErrorCode.UNAVAILABLE, "replica starting") : Protos.error(ErrorCode.INVALID_ARGUMENT, invalid)).build());
            return;
        }
        node.follow(request.getEpoch(), request.getLeader(), request.getMembersList(), request.getFailoverId())
                .orTimeout(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)
                .whenComplete((o, ex) -> {
                    FollowResponse.Builder b = FollowResponse.newBuilder();
                    if (ex != null) {
                        b.setError(Protos.error(ErrorCode.UNAVAILABLE, "follow did not complete: " + ex));
                    } else {
                        b.setLast(o.last().toProto());
                        if (o.code() != ErrorCode.OK) {
                            b.setError(Protos.error(o.code(), o.reason()));
                        }
                    }
                    KvGrpcService.reply(out, b.build());
                });
    }

    @Override
    public void stepDown(StepDownRequest request, StreamObserver<StepDownResponse> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            KvGrpcService.reply(out, StepDownResponse.newBuilder().setError(Protos.error(ErrorCode.UNAVAILABLE, "replica starting")).build());
            return;
        }
        if (request.getEpoch() < 0) {
            KvGrpcService.reply(out, StepDownResponse.newBuilder().setError(Protos.error(ErrorCode.INVALID_ARGUMENT, "epoch out of range")).build());
            return;
        }
        node.stepDown(request.getEpoch(), request.getFailoverId()).orTimeout(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)
                .whenComplete((o, ex) -> {
                    StepDownResponse.Builder b = StepDownResponse.newBuilder();
                    if (ex != null) {
                        b.setError(Protos.error(ErrorCode.UNAVAILABLE, "step down did not complete: " + ex));
                    } else {
                        b.setLast(o.last().toProto());
                        if (o.code() != ErrorCode.OK) {
                            b.setError(Protos.error(o.code(), o.reason()));
                        }
                    }
                    KvGrpcService.reply(out, b.build());
                });
    }
}
