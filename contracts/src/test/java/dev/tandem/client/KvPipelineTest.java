package dev.tandem.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvCall;
import dev.tandem.proto.KvResult;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link KvPipeline} against a real gRPC server on loopback whose answers the test controls. */
class KvPipelineTest {

    /** A call the server received, with the stream to answer it on. */
    record Received(KvCall call, StreamObserver<KvResult> out) {
        void answerGet(String value) {
            synchronized (out) {
                out.onNext(KvResult.newBuilder().setCallId(call.getCallId())
                        .setGet(GetResponse.newBuilder().setFound(true).setServedBy(value)).build());
            }
        }
    }

    private final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    private final List<StreamObserver<KvResult>> streams = new ArrayList<>();
    private Server server;
    private ManagedChannel channel;
    private ScheduledExecutorService timers;

    @BeforeEach
    void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new KvServiceGrpc.KvServiceImplBase() {
            @Override
            public StreamObserver<KvCall> pipeline(StreamObserver<KvResult> out) {
                synchronized (streams) {
                    streams.add(out);
                }
                return new StreamObserver<>() {
                    @Override
                    public void onNext(KvCall call) {
                        received.add(new Received(call, out));
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                    }
                };
            }
        }).build().start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        timers = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
        timers.shutdownNow();
    }

    private static GetRequest get(String key) {
        return GetRequest.newBuilder().setKey(key).build();
    }

    @Test
    void answersInAnyOrderReachTheirOwnCallsOnOneStream() throws Exception {
        KvPipeline p = new KvPipeline(channel, timers, 100);
        List<CompletableFuture<GetResponse>> calls = new ArrayList<>();
        List<Received> got = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(p.get(get("k" + i), 5_000));
        }
        for (int i = 0; i < 3; i++) {
            got.add(received.poll(5, TimeUnit.SECONDS));
        }
        for (int i = 2; i >= 0; i--) {
            got.get(i).answerGet(got.get(i).call().getGet().getKey());
        }
        for (int i = 0; i < 3; i++) {
            assertEquals("k" + i, calls.get(i).get(5, TimeUnit.SECONDS).getServedBy());
        }
        assertEquals(1, streams.size(), "all calls shared one stream");
        assertEquals(0, p.inFlight());
        assertTrue(got.get(0).call().getTimeoutMs() > 0 && got.get(0).call().getTimeoutMs() <= 5_000, "the timeout travels with the call");
    }

    @Test
    void anUnansweredCallTimesOutAndItsLateAnswerIsDropped() throws Exception {
        KvPipeline p = new KvPipeline(channel, timers, 100);
        CompletableFuture<GetResponse> slow = p.get(get("slow"), 100);
        Received r = received.poll(5, TimeUnit.SECONDS);
        ExecutionException e = assertThrows(ExecutionException.class, () -> slow.get(5, TimeUnit.SECONDS));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(e.getCause()).getCode());
        assertEquals(0, p.inFlight());
        r.answerGet("late");
        // The stream still serves later calls.
        CompletableFuture<GetResponse> next = p.get(get("next"), 5_000);
        received.poll(5, TimeUnit.SECONDS).answerGet("next");
        assertEquals("next", next.get(5, TimeUnit.SECONDS).getServedBy());
    }

    @Test
    void aBrokenStreamFailsItsCallsAndTheNextCallOpensANewOne() throws Exception {
        KvPipeline p = new KvPipeline(channel, timers, 100);
        CompletableFuture<WriteResponse> w = p.write(WriteRequest.newBuilder().setRequestId("a").build(), 5_000);
        Received r = received.poll(5, TimeUnit.SECONDS);
        r.out().onError(Status.UNAVAILABLE.withDescription("replica shutting down").asRuntimeException());
        ExecutionException e = assertThrows(ExecutionException.class, () -> w.get(5, TimeUnit.SECONDS));
        assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(e.getCause()).getCode());

        CompletableFuture<GetResponse> again = p.get(get("again"), 5_000);
        received.poll(5, TimeUnit.SECONDS).answerGet("again");
        assertEquals("again", again.get(5, TimeUnit.SECONDS).getServedBy());
        assertEquals(2, streams.size());
    }

    @Test
    void callsToAReplicaThatCannotBeReachedFailAtOnceWithUnavailable() throws Exception {
        int port = server.getPort();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        // directExecutor, as the router's channels: the stream then fails on the calling thread,
        // inside call() (this was a NullPointerException once).
        ManagedChannel dead = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().directExecutor().build();
        try {
            KvPipeline p = new KvPipeline(dead, timers, 100);
            for (int i = 0; i < 3; i++) {
                long t0 = System.nanoTime();
                ExecutionException e = assertThrows(ExecutionException.class, () -> p.get(get("k"), 5_000).get(10, TimeUnit.SECONDS));
                assertEquals(Status.Code.UNAVAILABLE, Status.fromThrowable(e.getCause()).getCode(), String.valueOf(e.getCause()));
                assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) < 4_000, "failed at once, not at its timeout");
            }
            assertEquals(0, p.inFlight());
        } finally {
            dead.shutdownNow();
        }
    }

    @Test
    void callsBeyondTheLimitFailAtOnceAndCancelledCallsAreForgotten() throws Exception {
        KvPipeline p = new KvPipeline(channel, timers, 2);
        CompletableFuture<GetResponse> a = p.get(get("a"), 5_000);
        p.get(get("b"), 5_000);
        ExecutionException e = assertThrows(ExecutionException.class, () -> p.get(get("c"), 5_000).get());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, Status.fromThrowable(e.getCause()).getCode());
        a.cancel(false);
        assertEquals(1, p.inFlight());
        p.close();
        assertEquals(0, p.inFlight());
        ExecutionException closed = assertThrows(ExecutionException.class, () -> p.get(get("d"), 5_000).get());
        assertInstanceOf(StatusRuntimeException.class, closed.getCause());
    }
}
