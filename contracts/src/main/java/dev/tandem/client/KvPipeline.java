package dev.tandem.client;

import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvCall;
import dev.tandem.proto.KvResult;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.WriteRequest;
import dev.tandem.proto.WriteResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Writes and gets to one replica over its {@code KvService.Pipeline} stream: many calls in flight
 * on one HTTP/2 stream, answered in any order and matched by call id.
 *
 * <p>Why not unary calls: on the replica's gRPC server a unary call's own cost (a new HTTP/2
 * stream, headers, trailers, per-call interceptors) was several times that of the write or read
 * it carried; on a 2-core machine that, not the disk, capped writes and reads per second.
 *
 * <p>Failure behaves as with unary calls: a call not answered within its timeout fails with
 * {@code DEADLINE_EXCEEDED}; when the stream breaks every call in flight fails with the stream's
 * status (usually {@code UNAVAILABLE}) and the next call opens a new stream. Cancelling a returned
 * future forgets the call (its answer is dropped when it comes). Thread-safe.
 */
public final class KvPipeline implements AutoCloseable {

    private final Channel channel;
    private final ScheduledExecutorService timers;
    private final int maxInFlight;
    private final Map<Long, Pending<?>> inFlight = new ConcurrentHashMap<>();
    private long nextCallId;
    private Stream stream;
    private boolean closed;

    /**
     * @param timers      runs the per-call timeouts (a Netty event loop group will do)
     * @param maxInFlight calls waiting for an answer at most; beyond it a call fails at once with
     *                    {@code RESOURCE_EXHAUSTED} rather than queueing without bound
     */
    public KvPipeline(Channel channel, ScheduledExecutorService timers, int maxInFlight) {
        this.channel = channel;
        this.timers = timers;
        this.maxInFlight = maxInFlight;
    }

    public CompletableFuture<WriteResponse> write(WriteRequest request, long timeoutMs) {
        return call(KvCall.newBuilder().setWrite(request), timeoutMs, KvResult::getWrite);
    }

    public CompletableFuture<GetResponse> get(GetRequest request, long timeoutMs) {
        return call(KvCall.newBuilder().setGet(request), timeoutMs, KvResult::getGet);
    }

    public int inFlight() {
        return inFlight.size();
    }

    private <T> CompletableFuture<T> call(KvCall.Builder call, long timeoutMs, Function<KvResult, T> answer) {
        if (timeoutMs <= 0) {
            return CompletableFuture.failedFuture(Status.DEADLINE_EXCEEDED.withDescription("no time left for the call").asRuntimeException());
        }
        if (inFlight.size() >= maxInFlight) {
            return CompletableFuture.failedFuture(Status.RESOURCE_EXHAUSTED
                    .withDescription(maxInFlight + " calls already in flight to this replica").asRuntimeException());
        }
        Pending<T> p = new Pending<>(answer);
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(Status.CANCELLED.withDescription("pipeline closed").asRuntimeException());
            }
            long id = ++nextCallId;
            Stream s = stream;
            if (s == null) {
                s = new Stream();
                stream = s;
                // On a channel that cannot connect this fails at once, on this thread: the stream
                // then ends (endedWith set, `stream` cleared) before the call below is sent.
                s.requests = KvServiceGrpc.newStub(channel).pipeline(s);
            }
            p.stream = s;
            inFlight.put(id, p);
            // Registered before the timer and the send, so neither can find the call missing.
            p.timeout = timers.schedule(() -> fail(id, Status.DEADLINE_EXCEEDED
                    .withDescription("no answer from the replica within " + timeoutMs + " ms")), timeoutMs, TimeUnit.MILLISECONDS);
            p.future.whenComplete((v, e) -> {
                if (p.future.isCancelled()) {
                    forget(id);
                }
            });
            Status ended = s.endedWith;
            if (ended != null) {
                fail(id, ended);
            } else {
                s.requests.onNext(call.setCallId(id).setTimeoutMs((int) Math.min(Integer.MAX_VALUE, timeoutMs)).build());
            }
        }
        return p.future;
    }

    private void fail(long id, Status status) {
        Pending<?> p = forget(id);
        if (p != null) {
            p.future.completeExceptionally(status.asRuntimeException());
        }
    }

    private Pending<?> forget(long id) {
        Pending<?> p = inFlight.remove(id);
        if (p != null && p.timeout != null) {
            p.timeout.cancel(false);
        }
        return p;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (stream != null) {
                stream.requests.onError(Status.CANCELLED.withDescription("pipeline closed").asRuntimeException());
                stream = null;
            }
        }
        inFlight.keySet().forEach(id -> fail(id, Status.CANCELLED.withDescription("pipeline closed")));
    }

    private static final class Pending<T> {
        final CompletableFuture<T> future = new CompletableFuture<>();
        final Function<KvResult, T> answer;
        Stream stream;
        ScheduledFuture<?> timeout;

        Pending(Function<KvResult, T> answer) {
            this.answer = answer;
        }

        void complete(KvResult r) {
            if (r.hasError()) {
                future.completeExceptionally(Status.INTERNAL.withDescription(r.getError().getCode() + ": " + r.getError().getMessage())
                        .asRuntimeException());
            } else {
                future.complete(answer.apply(r));
            }
        }
    }

    /** One opened stream; when it ends, the calls sent on it fail and the next call opens another. */
    private final class Stream implements StreamObserver<KvResult> {
        StreamObserver<KvCall> requests;
        /** Why the stream ended, once it has; calls sent on it after that fail with this at once. */
        volatile Status endedWith;

        @Override
        public void onNext(KvResult r) {
            Pending<?> p = forget(r.getCallId());
            if (p != null) {
                p.complete(r);
            }
        }

        @Override
        public void onError(Throwable t) {
            ended(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            ended(Status.UNAVAILABLE.withDescription("replica closed the pipeline"));
        }

        private void ended(Status status) {
            endedWith = status;
            synchronized (KvPipeline.this) {
                if (stream == this) {
                    stream = null;
                }
            }
            inFlight.forEach((id, p) -> {
                if (p.stream == this) {
                    fail(id, status);
                }
            });
        }
    }
}
