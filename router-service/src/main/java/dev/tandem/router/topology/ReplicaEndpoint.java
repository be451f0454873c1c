package dev.tandem.router.topology;

import dev.tandem.client.KvPipeline;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.ScanRequest;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * One replica's gRPC channel. Calls are asynchronous and their callbacks run on the channel's
 * transport threads ({@code directExecutor}): nothing downstream blocks, and the request never
 * needs a worker thread, which is what lets one router serve tens of thousands of reads a second.
 * Gets and writes travel on one {@link KvPipeline} stream rather than as unary calls: a unary
 * call's own HTTP/2 cost on the replica was larger than the read it carried.
 */
public final class ReplicaEndpoint implements AutoCloseable {

    private final String id;
    private final String address;
    private final ManagedChannel channel;
    private final KvServiceGrpc.KvServiceStub stub;
    private final KvPipeline pipeline;

    /**
     * @param eventLoops the HTTP server's Netty event loops: replica calls run on the same threads
     *                   as the requests that make them, so a read costs no thread hand-off on a
     *                   machine with few cores
     * @param maxInFlight gets and writes waiting for an answer at most (see {@link KvPipeline})
     */
    public ReplicaEndpoint(String id, String host, int port, EventLoopGroup eventLoops, int maxInFlight) {
        this.id = id;
        this.address = host + ":" + port;
        this.channel = NettyChannelBuilder.forAddress(host, port)
                .eventLoopGroup(eventLoops)
                .channelType(NioSocketChannel.class)
                .usePlaintext()
                .directExecutor()
                // A follower that answers nothing must not hold a connection forever.
                .keepAliveTime(30, TimeUnit.SECONDS)
                .build();
        this.stub = KvServiceGrpc.newStub(channel);
        this.pipeline = new KvPipeline(channel, eventLoops, maxInFlight);
    }

    public String id() {
        return id;
    }

    public String address() {
        return address;
    }

    /** Gets and writes sent and not yet answered, timed out or forgotten. */
    public int callsInFlight() {
        return pipeline.inFlight();
    }

    public CompletableFuture<ReplicaInfo> info(long deadlineMs) {
        return call(deadlineMs, (s, o) -> s.info(InfoRequest.getDefaultInstance(), o));
    }

    public CompletableFuture<GetResponse> get(GetRequest request, long deadlineMs) {
        resetBackoffIfFailing();
        return pipeline.get(request, deadlineMs);
    }

    public CompletableFuture<ScanResponse> scan(ScanRequest request, long deadlineMs) {
        return call(deadlineMs, (s, o) -> s.scan(request, o));
    }

    /**
     * Sends a write. Cancelling the returned future forgets it (the router abandons a write to a
     * leader that a newer leader has replaced; see {@code KvRouter}).
     */
    public CompletableFuture<WriteResponse> write(WriteRequest request, long deadlineMs) {
        resetBackoffIfFailing();
        return pipeline.write(request, deadlineMs);
    }

    private <T> CompletableFuture<T> call(long deadlineMs, BiConsumer<KvServiceGrpc.KvServiceStub, StreamObserver<T>> invoke) {
        CompletableFuture<T> result = new CompletableFuture<>();
        resetBackoffIfFailing();
        invoke.accept(stub.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS), new ClientResponseObserver<Object, T>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<Object> call) {
                // A caller that cancels the future gives up on the answer: free the call (and tell
                // the replica, if it ever reads the cancellation) instead of waiting for its deadline.
                result.whenComplete((v, e) -> {
                    if (result.isCancelled()) {
                        call.cancel("abandoned by the router", null);
                    }
                });
            }

            @Override
            public void onNext(T value) {
                result.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                if (!result.isDone()) {
                    result.completeExceptionally(new IllegalStateException("replica " + id + " completed a unary call without a response"));
                }
            }
        });
        return result;
    }

    /**
     * A channel whose replica was down backs off reconnecting for up to two minutes and fails every
     * call meanwhile; a replica back from a restart (often the next leader) must be seen by the
     * next topology poll, not after the back-off.
     */
    private void resetBackoffIfFailing() {
        if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            channel.resetConnectBackoff();
        }
    }

    @Override
    public void close() {
        pipeline.close();
        channel.shutdownNow();
    }
}
