package dev.tandem.replica.grpc;

import dev.tandem.proto.KvResult;
import io.grpc.stub.StreamObserver;
import io.vertx.core.Context;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The answers of one {@code Pipeline} stream. To a caller that accepts batches, answers are queued
 * and written by one task on the stream's event loop, all that are ready in one message: the
 * writes of a group commit (completed together on the driver thread) or the gets of one read from
 * the socket then cost one HTTP/2 frame and one system call instead of one each, on both ends.
 * Other callers, and a stream served off an event loop, get one message per answer at once.
 *
 * <p>Answers come from the event loop (gets), the driver (writes) and the applied-position watcher
 * (waiting gets); writes to the stream are serialised on {@code out}.
 */
final class PipelineAnswers {

    /** Answers in one message add up to this much at most, in bytes (a larger one goes alone). */
    static final int MAX_BATCH_BYTES = 1 << 20;

    private final StreamObserver<KvResult> out;
    /** The stream's event loop context, or null when it was not served on one. */
    private final Context eventLoop;
    private final Queue<KvResult> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private volatile boolean batches;

    PipelineAnswers(StreamObserver<KvResult> out, Context context) {
        this.out = out;
        this.eventLoop = context != null && context.isEventLoopContext() ? context : null;
    }

    /** The caller set {@code accepts_batches} on a call. */
    void callerAcceptsBatches() {
        batches = true;
    }

    void send(KvResult answer) {
        if (!batches || eventLoop == null) {
            write(answer);
            return;
        }
        queue.add(answer);
        if (drainScheduled.compareAndSet(false, true)) {
            eventLoop.runOnContext(v -> drain());
        }
    }

    /** The caller closed its side: what is queued goes out first. */
    void complete() {
        if (eventLoop == null) {
            completeNow();
        } else {
            eventLoop.runOnContext(v -> {
                drain();
                completeNow();
            });
        }
    }

    private void drain() {
        // Cleared before polling: an answer queued after the last poll schedules a new drain.
        drainScheduled.set(false);
        KvResult.Builder batch = KvResult.newBuilder();
        int bytes = 0;
        for (KvResult r = queue.poll(); r != null; r = queue.poll()) {
            int size = r.getSerializedSize();
            if (batch.getBatchCount() > 0 && bytes + size > MAX_BATCH_BYTES) {
                flush(batch);
                batch = KvResult.newBuilder();
                bytes = 0;
            }
            batch.addBatch(r);
            bytes += size;
        }
        flush(batch);
    }

    private void flush(KvResult.Builder batch) {
        if (batch.getBatchCount() == 1) {
            write(batch.getBatch(0));
        } else if (batch.getBatchCount() > 1) {
            write(batch.build());
        }
    }

    private void write(KvResult r) {
        synchronized (out) {
            try {
                out.onNext(r);
            } catch (RuntimeException e) {
                // The caller closed the stream; it no longer waits for this answer.
            }
        }
    }

    private void completeNow() {
        synchronized (out) {
            try {
                out.onCompleted();
            } catch (RuntimeException e) {
                // Already gone.
            }
        }
    }
}
