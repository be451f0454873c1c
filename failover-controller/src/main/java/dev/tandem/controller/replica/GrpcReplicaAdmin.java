package dev.tandem.controller.replica;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tandem.common.ClusterSecret;
import dev.tandem.common.LogPosition;
import dev.tandem.controller.model.Member;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.FollowRequest;
import dev.tandem.proto.Position;
import dev.tandem.proto.PromoteRequest;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
import dev.tandem.proto.StepDownRequest;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * AdminService over plain gRPC channels, one per replica address (kept open; addresses change
 * only when a pod is rescheduled). A killed replica fails calls at once (connection refused);
 * a hung one is cut off by the deadline, so one bad replica never stalls a probe round.
 */
public final class GrpcReplicaAdmin implements ReplicaAdmin {

    private final ClusterSecret secret;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final Map<String, Integer> statusFailures = new ConcurrentHashMap<>();

    /**
     * After this many Status failures in a row the channel is rebuilt: seen on loopback, a
     * channel whose peer was killed and restarted several times can stay stuck failing even
     * with its back-off reset, and a replica that is back must be seen within a second.
     */
    static final int REBUILD_CHANNEL_AFTER_FAILURES = 10;

    public GrpcReplicaAdmin(ClusterSecret secret) {
        this.secret = secret;
    }

    private ManagedChannel channel(String address) {
        ManagedChannel ch = channels.computeIfAbsent(address, a -> ManagedChannelBuilder.forTarget(a)
                .usePlaintext()
                .build());
        // A channel that failed backs off reconnecting for up to minutes; a replica restarted by
        // its supervisor must be seen by the next probe, not after the back-off.
        if (ch.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            ch.resetConnectBackoff();
        }
        return ch;
    }

    private AdminServiceGrpc.AdminServiceFutureStub future(Member m, Duration deadline) {
        return AdminServiceGrpc.newFutureStub(channel(m.address()))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(secret.asMetadata()))
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    private AdminServiceGrpc.AdminServiceBlockingStub blocking(Member m, Duration deadline) {
        return AdminServiceGrpc.newBlockingStub(channel(m.address()))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(secret.asMetadata()))
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public CompletableFuture<StatusResponse> status(Member replica, Duration deadline) {
        CompletableFuture<StatusResponse> out = new CompletableFuture<>();
        String address = replica.address();
        Futures.addCallback(future(replica, deadline).status(StatusRequest.getDefaultInstance()),
                new FutureCallback<>() {
                    @Override
                    public void onSuccess(StatusResponse r) {
                        statusFailures.remove(address);
                        out.complete(r);
                    }

                    @Override
                    public void onFailure(Throwable t) {
                        int n = statusFailures.merge(address, 1, Integer::sum);
                        if (n % REBUILD_CHANNEL_AFTER_FAILURES == 0) {
                            ManagedChannel old = channels.remove(address);
                            if (old != null) {
                                old.shutdownNow();
                            }
                        }
                        out.completeExceptionally(t);
                    }
                }, MoreExecutors.directExecutor());
        return out;
    }

    @Override
    public CommandOutcome promote(Member replica, long epoch, List<Member> members, String failoverId, Duration deadline) {
        PromoteRequest req = PromoteRequest.newBuilder().setEpoch(epoch).setFailoverId(failoverId)
                .addAllMembers(members.stream().map(Member::toProto).toList()).build();
        return call(() -> {
            var r = blocking(replica, deadline).promote(req);
            return outcome(r.getError(), r.getLast());
        });
    }

    @Override
    public CommandOutcome follow(Member replica, long epoch, Member leader, List<Member> members, String failoverId,
                                 Duration deadline) {
        FollowRequest req = FollowRequest.newBuilder().setEpoch(epoch).setLeader(leader.toProto()).setFailoverId(failoverId)
                .addAllMembers(members.stream().map(Member::toProto).toList()).build();
        return call(() -> {
            var r = blocking(replica, deadline).follow(req);
            return outcome(r.getError(), r.getLast());
        });
    }

    @Override
    public CommandOutcome stepDown(Member replica, long epoch, String failoverId, Duration deadline) {
        StepDownRequest req = StepDownRequest.newBuilder().setEpoch(epoch).setFailoverId(failoverId).build();
        return call(() -> {
            var r = blocking(replica, deadline).stepDown(req);
            return outcome(r.getError(), r.getLast());
        });
    }

    private static CommandOutcome outcome(Error error, Position last) {
        ErrorCode code = error == null ? ErrorCode.OK : error.getCode();
        return new CommandOutcome(code, error == null ? "" : error.getMessage(), LogPosition.of(last));
    }

    private static CommandOutcome call(Supplier<CommandOutcome> rpc) {
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            return CommandOutcome.unreachable(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
        }
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        channels.clear();
    }
}
