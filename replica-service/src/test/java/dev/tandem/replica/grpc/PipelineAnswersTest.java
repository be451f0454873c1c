package dev.tandem.replica.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvResult;
import io.grpc.stub.StreamObserver;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link PipelineAnswers} on a real Vert.x event loop, with the stream recorded. */
class PipelineAnswersTest {

    /** What the stream received, in order; "completed" marks the end. */
    private final List<Object> sent = new ArrayList<>();
    private final StreamObserver<KvResult> out = new StreamObserver<>() {
        @Override
        public void onNext(KvResult value) {
            sent.add(value);
        }

        @Override
        public void onError(Throwable t) {
            sent.add(t);
        }

        @Override
        public void onCompleted() {
            sent.add("completed");
        }
    };
    private Vertx vertx;
    private Context eventLoop;

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        eventLoop = vertx.getOrCreateContext();
    }

    @AfterEach
    void stop() {
        vertx.close();
    }

    private static KvResult answer(long callId, int valueBytes) {
        return KvResult.newBuilder().setCallId(callId)
                .setGet(GetResponse.newBuilder().setFound(true).setValue(ByteString.copyFrom(new byte[valueBytes]))).build();
    }

    /** Runs {@code action} on the event loop, then waits until the loop has run what it queued. */
    private void onLoop(Runnable action) throws InterruptedException {
        eventLoop.runOnContext(v -> action.run());
        CountDownLatch after = new CountDownLatch(1);
        eventLoop.runOnContext(v -> eventLoop.runOnContext(w -> after.countDown()));
        assertTrue(after.await(5, TimeUnit.SECONDS));
    }

    @Test
    void answersReadyTogetherGoInOneMessageToACallerThatAcceptsBatches() throws Exception {
        PipelineAnswers answers = new PipelineAnswers(out, eventLoop);
        answers.callerAcceptsBatches();
        onLoop(() -> {
            for (int i = 1; i <= 3; i++) {
                answers.send(answer(i, 10));
            }
        });
        assertEquals(1, sent.size());
        KvResult batch = (KvResult) sent.get(0);
        assertEquals(List.of(1L, 2L, 3L), batch.getBatchList().stream().map(KvResult::getCallId).toList());
        assertEquals(0, batch.getCallId(), "a batch carries no answer of its own");

        onLoop(() -> answers.send(answer(4, 10)));
        assertEquals(answer(4, 10), sent.get(1), "one answer alone goes as itself");
    }

    @Test
    void aCallerThatDoesNotAcceptBatchesGetsOneMessagePerAnswer() throws Exception {
        PipelineAnswers answers = new PipelineAnswers(out, eventLoop);
        onLoop(() -> {
            for (int i = 1; i <= 3; i++) {
                answers.send(answer(i, 10));
            }
        });
        assertEquals(List.of(answer(1, 10), answer(2, 10), answer(3, 10)), sent);
    }

    @Test
    void aBatchStaysWithinItsByteBound() throws Exception {
        PipelineAnswers answers = new PipelineAnswers(out, eventLoop);
        answers.callerAcceptsBatches();
        int third = PipelineAnswers.MAX_BATCH_BYTES / 3;
        onLoop(() -> {
            for (int i = 1; i <= 5; i++) {
                answers.send(answer(i, third));
            }
        });
        List<Long> ids = new ArrayList<>();
        for (Object o : sent) {
            KvResult m = (KvResult) o;
            assertTrue(m.getBatchCount() == 0 || m.getSerializedSize() <= PipelineAnswers.MAX_BATCH_BYTES + 64,
                    "message of " + m.getSerializedSize() + " bytes");
            if (m.getBatchCount() == 0) {
                ids.add(m.getCallId());
            } else {
                m.getBatchList().forEach(r -> ids.add(r.getCallId()));
            }
        }
        assertTrue(sent.size() >= 2, "split into " + sent.size());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), ids, "every answer once, in order");
    }

    @Test
    void answersQueuedFromAnotherThreadGoOutBeforeTheEndOfTheStream() throws Exception {
        PipelineAnswers answers = new PipelineAnswers(out, eventLoop);
        answers.callerAcceptsBatches();
        answers.send(answer(1, 10)); // from this thread, as the driver sends write answers
        answers.send(answer(2, 10));
        answers.complete();
        onLoop(() -> { });
        assertEquals("completed", sent.get(sent.size() - 1));
        List<Long> ids = new ArrayList<>();
        for (Object o : sent.subList(0, sent.size() - 1)) {
            KvResult m = (KvResult) o;
            if (m.getBatchCount() == 0) {
                ids.add(m.getCallId());
            } else {
                m.getBatchList().forEach(r -> ids.add(r.getCallId()));
            }
        }
        assertEquals(List.of(1L, 2L), ids);
    }
}
