package dev.tandem.router.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.EpochStart;
import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KvCall;
import dev.tandem.proto.KvResult;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Op;
import dev.tandem.proto.Position;
import dev.tandem.proto.Put;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.Role;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import dev.tandem.router.cache.FollowerCaches;
import dev.tandem.router.config.RouterConfig;
import dev.tandem.router.metrics.RouterMetrics;
import dev.tandem.router.topology.ReplicaEndpoint;
import dev.tandem.router.topology.ReplicaView;
import dev.tandem.router.topology.Topology;
import dev.tandem.router.topology.TopologyService;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The write hand-over of {@link KvRouter#write} with the real router classes (TopologyService,
 * ReplicaEndpoint's gRPC channels) against fake replicas: in-process gRPC servers whose Info and
 * Write answers the test sets. Polls are driven by {@code refreshNow()}, so nothing is timed.
 */
class KvRouterHandoverTest {

    private final List<FakeReplica> fakes = new ArrayList<>();
    private Vertx vertx;
    private TopologyService topology;
    private SimpleMeterRegistry registry;
    private KvRouter router;

    @AfterEach
    void close() {
        if (topology != null) {
            for (FakeReplica f : fakes) {
                topology.endpoint(f.id).ifPresent(ReplicaEndpoint::close);
            }
        }
        fakes.forEach(FakeReplica::close);
        if (vertx != null) {
            vertx.close().toCompletionStage().toCompletableFuture().join();
        }
    }

    // ---- the hand-over decision, a pure function of the topology ----------------------------

    @Test
    void handOverOnlyToAnotherReplicaLeadingAHigherEpoch() {
        Topology newLeader = new Topology(List.of(view("a", Role.ROLE_LEADER, 1, true), view("b", Role.ROLE_LEADER, 2, true)));
        assertEquals(Optional.of("b"), KvRouter.handOverTarget(newLeader, "a", 1).map(ReplicaView::id));
        // The same replica leading a newer epoch: its own answer is the one to wait for.
        Topology reElected = new Topology(List.of(view("a", Role.ROLE_LEADER, 2, true), view("b", Role.ROLE_FOLLOWER, 2, true)));
        assertEquals(Optional.empty(), KvRouter.handOverTarget(reElected, "a", 1));
        // Another leader, not newer than the one the write went to (a stale view): stay.
        assertEquals(Optional.empty(), KvRouter.handOverTarget(newLeader, "a", 2));
        assertEquals(Optional.empty(), KvRouter.handOverTarget(newLeader, "c", 2));
        // No leader at all (failover in progress): nothing to hand over to yet.
        Topology none = new Topology(List.of(view("a", Role.ROLE_LEADER, 1, false), view("b", Role.ROLE_FOLLOWER, 1, true)));
        assertEquals(Optional.empty(), KvRouter.handOverTarget(none, "a", 0));
    }

    private static ReplicaView view(String id, Role role, long epoch, boolean healthy) {
        ReplicaInfo info = ReplicaInfo.newBuilder().setReplicaId(id).setRole(role).setEpoch(epoch)
                .setAcceptingWrites(role == Role.ROLE_LEADER).build();
        return new ReplicaView(id, "127.0.0.1:1", info, EpochHistory.empty(), healthy, 0, "");
    }

    // ---- the whole write path against fake replicas --------------------------------------------

    @Test
    void aWriteInFlightToAReplacedLeaderIsForgottenThereAndSentOnceToTheNewLeader() throws Exception {
        FakeReplica a = fake("a").lead(1);          // holds every write: a leader cut off mid-write
        FakeReplica b = fake("b").follow(1, "a");
        start(10_000);

        CompletableFuture<Served<WriteResponse>> w = router.write(request("req-1"), e -> null);
        FakeReplica.Held first = a.writes.poll(5, TimeUnit.SECONDS);
        assertEquals("req-1", first.request().getRequestId());
        assertEquals(1, topology.leaderWatchCount(), "the write in flight watches for a newer leader");

        b.answer = r -> WriteResponse.newBuilder().setPosition(pos(1, 9)).setReplayed(true).setServedBy("b").build();
        b.lead(2);
        long t0 = System.nanoTime();
        topology.refreshNow().join();
        Served<WriteResponse> s = w.get(5, TimeUnit.SECONDS);
        long handoverMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals("b", s.servedBy());
        assertEquals(new LogPosition(1, 9), s.position(), "b held the entry: its replayed answer is the original position");
        assertTrue(s.response().getReplayed());
        FakeReplica.Held second = b.writes.poll(5, TimeUnit.SECONDS);
        assertEquals(first.request(), second.request(), "the same WriteRequest, request id included");
        assertEquals(0, topology.endpoint("a").orElseThrow().callsInFlight(), "the call to the replaced leader was forgotten");
        assertEquals(1.0, handovers());
        assertEquals(0, topology.leaderWatchCount(), "nothing stays registered once the write is answered");
        assertTrue(handoverMs < 2_000, "answered " + handoverMs + " ms after the poll that found the new leader");
    }

    @Test
    void writesAnsweredNormallyLeaveNoWatchAndCountNoHandover() throws Exception {
        FakeReplica a = fake("a").lead(1);
        a.answer = r -> WriteResponse.newBuilder().setPosition(pos(1, 5)).setServedBy("a").build();
        fake("b").follow(1, "a");
        start(10_000);
        for (int i = 0; i < 200; i++) {
            assertEquals("a", router.write(request("ok-" + i), e -> null).get(5, TimeUnit.SECONDS).servedBy());
        }
        assertEquals(0, topology.leaderWatchCount());
        assertEquals(0.0, handovers());
    }

    @Test
    void theSameReplicaLeadingANewerEpochKeepsTheWrite() throws Exception {
        FakeReplica a = fake("a").lead(1);
        FakeReplica b = fake("b").follow(1, "a");
        start(10_000);

        CompletableFuture<Served<WriteResponse>> w = router.write(request("req-2"), e -> null);
        FakeReplica.Held held = a.writes.poll(5, TimeUnit.SECONDS);
        a.lead(2);
        b.follow(2, "a");
        topology.refreshNow().join();
        assertFalse(w.isDone());
        assertEquals(1, topology.leaderWatchCount(), "still watching, now above epoch 2");

        held.answer(WriteResponse.newBuilder().setPosition(pos(2, 3)).setServedBy("a").build());
        assertEquals("a", w.get(5, TimeUnit.SECONDS).servedBy());
        assertTrue(b.writes.isEmpty());
        assertEquals(0.0, handovers());
        assertEquals(0, topology.leaderWatchCount());
    }

    @Test
    void atMostOneHandOverAndTheWholeWriteStaysWithinWriteTimeout() throws Exception {
        long writeTimeoutMs = 1_500;
        FakeReplica a = fake("a").lead(1);
        FakeReplica b = fake("b").follow(1, "a");   // will lead epoch 2 and hold the write as well
        FakeReplica c = fake("c").follow(1, "a");
        start(writeTimeoutMs);

        long t0 = System.nanoTime();
        CompletableFuture<Served<WriteResponse>> w = router.write(request("req-3"), e -> null);
        a.writes.poll(5, TimeUnit.SECONDS);
        Thread.sleep(500);
        b.lead(2);
        topology.refreshNow().join();
        b.writes.poll(5, TimeUnit.SECONDS);
        c.lead(3);
        topology.refreshNow().join();

        ExecutionException e = assertThrows(ExecutionException.class, () -> w.get(10, TimeUnit.SECONDS));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        RouterException re = assertInstanceOf(RouterException.class, e.getCause());
        assertEquals(ErrorCode.UNAVAILABLE, re.code());
        assertTrue(re.getMessage().contains("the leader b did not answer within 1500 ms"), re.getMessage());
        assertTrue(c.writes.isEmpty(), "no second hand-over");
        assertEquals(1.0, handovers());
        assertTrue(tookMs >= writeTimeoutMs - 50 && tookMs < writeTimeoutMs + 700,
                "the hand-over gets what is left of write-timeout-ms, not a new one: took " + tookMs + " ms");
        assertEquals(0, topology.leaderWatchCount());
    }

    @Test
    void aNotLeaderAnswerIsStillFollowedOnceToTheLeaderItNames() throws Exception {
        FakeReplica a = fake("a").lead(1);
        FakeReplica b = fake("b").follow(1, "a");
        a.answer = r -> WriteResponse.newBuilder().setServedBy("a").setError(Error.newBuilder().setCode(ErrorCode.NOT_LEADER)
                .setLeaderId("b").setLeaderAddress("127.0.0.1:" + b.port())).build();
        b.answer = r -> WriteResponse.newBuilder().setPosition(pos(2, 1)).setServedBy("b").build();
        start(10_000);
        Served<WriteResponse> s = router.write(request("req-4"), e -> null).get(5, TimeUnit.SECONDS);
        assertEquals("b", s.servedBy());
        assertEquals("req-4", b.writes.poll(5, TimeUnit.SECONDS).request().getRequestId());
        assertEquals(0.0, handovers(), "following a NOT_LEADER hint is not a hand-over");
        assertEquals(0, topology.leaderWatchCount());
    }

    // ---- fixtures ------------------------------------------------------------------------------

    private FakeReplica fake(String id) {
        FakeReplica f = new FakeReplica(id);
        fakes.add(f);
        return f;
    }

    private void start(long writeTimeoutMs) {
        vertx = Vertx.vertx();
        String replicas = fakes.stream().map(f -> f.id + "=127.0.0.1:" + f.port()).collect(Collectors.joining(","));
        topology = new TopologyService(config(replicas, writeTimeoutMs), vertx);
        registry = new SimpleMeterRegistry();
        router = new KvRouter(topology, new RouterMetrics(registry, topology), new FollowerCaches(topology, registry));
        // The first calls also connect (slow on a loaded machine): poll until the leader is seen.
        Topology t = topology.refreshNow().join();
        for (int i = 0; i < 20 && t.leader().isEmpty(); i++) {
            t = topology.refreshNow().join();
        }
        assertTrue(t.leader().isPresent(), "fake cluster has a leader: " + t);
    }

    private double handovers() {
        return registry.get("tandem.router.write.handovers").counter().count();
    }

    private static WriteRequest request(String id) {
        return WriteRequest.newBuilder().setRequestId(id)
                .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("k").setValue(com.google.protobuf.ByteString.copyFromUtf8("v")))).build();
    }

    private static Position pos(long epoch, long lsn) {
        return Position.newBuilder().setEpoch(epoch).setLsn(lsn).build();
    }

    private static RouterConfig config(String replicas, long writeTimeoutMs) {
        return new RouterConfig() {
            @Override
            public String replicas() {
                return replicas;
            }

            @Override
            public long topologyRefreshMs() {
                return 100;
            }

            @Override
            public long sessionWaitMs() {
                return 200;
            }

            @Override
            public long readTimeoutMs() {
                return 2_000;
            }

            @Override
            public long writeTimeoutMs() {
                return writeTimeoutMs;
            }

            @Override
            public int retryAfterS() {
                return 1;
            }

            @Override
            public int maxCallsInFlightPerReplica() {
                return 1_000;
            }

            @Override
            public long readCacheMaxBytes() {
                return 0; // these tests are about writes; the fakes have no change stream
            }

            @Override
            public long readCacheMaxSilenceMs() {
                return 2_000;
            }
        };
    }

    /** A replica as far as the router can tell: Info and pipelined writes over gRPC, answers set by the test. */
    static final class FakeReplica implements AutoCloseable {

        /** A write the fake received, answered on its pipeline by {@link #answer}. */
        record Held(WriteRequest request, Consumer<WriteResponse> reply) {
            void answer(WriteResponse r) {
                reply.accept(r);
            }
        }

        final String id;
        final BlockingQueue<Held> writes = new LinkedBlockingQueue<>();
        /** How to answer writes; null: hold them unanswered (a leader that reads nothing more). */
        volatile Function<WriteRequest, WriteResponse> answer;
        private volatile ReplicaInfo info;
        private final Server server;

        FakeReplica(String id) {
            this.id = id;
            try {
                server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new KvServiceGrpc.KvServiceImplBase() {
                    @Override
                    public void info(InfoRequest request, StreamObserver<ReplicaInfo> out) {
                        out.onNext(info);
                        out.onCompleted();
                    }

                    @Override
                    public StreamObserver<KvCall> pipeline(StreamObserver<KvResult> out) {
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(KvCall call) {
                                Held h = new Held(call.getWrite(), r -> {
                                    synchronized (out) {
                                        out.onNext(KvResult.newBuilder().setCallId(call.getCallId()).setWrite(r).build());
                                    }
                                });
                                writes.add(h);
                                Function<WriteRequest, WriteResponse> a = answer;
                                if (a != null) {
                                    h.answer(a.apply(call.getWrite()));
                                }
                            }

                            @Override
                            public void onError(Throwable t) {
                            }

                            @Override
                            public void onCompleted() {
                                out.onCompleted();
                            }
                        };
                    }
                }).build().start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        int port() {
            return server.getPort();
        }

        FakeReplica lead(long epoch) {
            info = base(epoch, id).setRole(Role.ROLE_LEADER).setAcceptingWrites(true).build();
            return this;
        }

        FakeReplica follow(long epoch, String leader) {
            info = base(epoch, leader).setRole(Role.ROLE_FOLLOWER).setStreaming(true).build();
            return this;
        }

        private ReplicaInfo.Builder base(long epoch, String leader) {
            return ReplicaInfo.newBuilder().setReplicaId(id).setAddress("127.0.0.1:" + port()).setEpoch(epoch)
                    .setLeaderId(leader).addHistory(EpochStart.newBuilder().setEpoch(epoch).setStartLsn(1).setLeaderId(leader));
        }

        @Override
        public void close() {
            server.shutdownNow();
        }
    }
}
