package dev.tandem.replica.node;

import dev.tandem.proto.LeaderMessage;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The leader's end of one follower's replication stream. Only the driver thread sends on it, so
 * the (not thread-safe) observer sees one caller.
 */
public final class LeaderStream {

    private static final AtomicLong IDS = new AtomicLong();

    final long id = IDS.incrementAndGet();
    final StreamObserver<LeaderMessage> out;
    String followerId;
    boolean closed;

    public LeaderStream(StreamObserver<LeaderMessage> out) {
        this.out = out;
    }

    void send(LeaderMessage m) {
        if (!closed) {
            out.onNext(m);
        }
    }

    void close() {
        if (!closed) {
            closed = true;
            try {
                out.onCompleted();
            } catch (RuntimeException e) {
                // Already cancelled by the peer: nothing left to close.
            }
        }
    }

    @Override
    public String toString() {
        return "stream#" + id + "(" + followerId + ")";
    }
}
