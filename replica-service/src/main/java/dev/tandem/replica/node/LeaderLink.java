package dev.tandem.replica.node;

import dev.tandem.common.ClusterSecret;
import dev.tandem.proto.FollowerMessage;
import dev.tandem.proto.LeaderMessage;
import dev.tandem.proto.ReplicationServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;

/**
 * A follower's stream to its leader. Messages from the leader and the end of the stream are
 * handed to the driver's inbox; only the driver sends (Subscribe, Ack) on it.
 */
final class LeaderLink {

    final String leaderId;
    final String address;
    final long epoch;
    boolean streaming;
    private StreamObserver<FollowerMessage> out;
    private volatile boolean closed;

    LeaderLink(String leaderId, String address, long epoch) {
        this.leaderId = leaderId;
        this.address = address;
        this.epoch = epoch;
    }

    void open(ManagedChannel channel, ClusterSecret secret, Consumer<LeaderMessage> onMessage, Consumer<Throwable> onClosed) {
        ReplicationServiceGrpc.ReplicationServiceStub stub = ReplicationServiceGrpc.newStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(secret.asMetadata()));
        out = stub.stream(new StreamObserver<>() {
            @Override
            public void onNext(LeaderMessage value) {
                if (!closed) {
                    onMessage.accept(value);
                }
            }

            @Override
            public void onError(Throwable t) {
                onClosed.accept(t);
            }

            @Override
            public void onCompleted() {
                onClosed.accept(null);
            }
        });
    }

    void send(FollowerMessage m) {
        if (!closed && out != null) {
            try {
                out.onNext(m);
            } catch (RuntimeException e) {
                // The call already failed; onError will tell the driver.
            }
        }
    }

    void close() {
        if (!closed) {
            closed = true;
            if (out != null) {
                try {
                    out.onCompleted();
                } catch (RuntimeException e) {
                    // already broken
                }
            }
        }
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "link(" + leaderId + "@" + address + ", epoch " + epoch + ")";
    }
}
