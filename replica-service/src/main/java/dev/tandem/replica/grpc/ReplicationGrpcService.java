package dev.tandem.replica.grpc;

import com.google.protobuf.ByteString;
import dev.tandem.proto.FileChunk;
import dev.tandem.proto.FollowerMessage;
import dev.tandem.proto.LeaderMessage;
import dev.tandem.proto.ReplicationServiceGrpc;
import dev.tandem.proto.SnapshotChunk;
import dev.tandem.proto.SnapshotFile;
import dev.tandem.proto.SnapshotHeader;
import dev.tandem.proto.SnapshotRequest;
import dev.tandem.replica.node.LeaderStream;
import dev.tandem.replica.node.ReplicaLifecycle;
import dev.tandem.replica.node.ReplicaNode;
import dev.tandem.replica.storage.ReplicaStore;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Leader side of log shipping. The follower opens {@code Stream} and sends Subscribe then Acks;
 * each message goes to the driver, which alone sends on the stream. {@code FetchSnapshot}
 * streams a fresh RocksDB checkpoint to a follower behind the retained log.
 */
@GrpcService
public class ReplicationGrpcService extends ReplicationServiceGrpc.ReplicationServiceImplBase {

    private static final Logger LOG = Logger.getLogger(ReplicationGrpcService.class);

    /** Snapshot files travel in chunks of this many bytes. */
    static final int SNAPSHOT_CHUNK_BYTES = 1 << 20;

    private final ReplicaLifecycle lifecycle;

    public ReplicationGrpcService(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    public StreamObserver<FollowerMessage> stream(StreamObserver<LeaderMessage> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            out.onError(Status.UNAVAILABLE.withDescription("replica starting").asRuntimeException());
            return new StreamObserver<>() {
                public void onNext(FollowerMessage v) {}
                public void onError(Throwable t) {}
                public void onCompleted() {}
            };
        }
        LeaderStream stream = new LeaderStream(out);
        return new StreamObserver<>() {
            private boolean subscribed;

            @Override
            public void onNext(FollowerMessage m) {
                ReplicaNode.Event e;
                if (m.hasSubscribe() && !subscribed) {
                    subscribed = true;
                    e = new ReplicaNode.SubscribeEv(stream, m.getSubscribe());
                } else if (m.hasAck() && subscribed) {
                    e = new ReplicaNode.AckEv(stream, m.getAck());
                } else {
                    e = new ReplicaNode.StreamClosed(stream);
                    LOG.warnf("protocol error on replication stream: %s after subscribe=%s; closing", m.getKindCase(), subscribed);
                }
                if (!node.offer(e)) {
                    // A lost ack only delays confirmation; a lost subscribe leaves the follower waiting,
                    // so we close the stream and let it subscribe again.
                    if (!(e instanceof ReplicaNode.AckEv)) {
                        out.onError(Status.UNAVAILABLE.withDescription("replica overloaded").asRuntimeException());
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                node.offer(new ReplicaNode.StreamClosed(stream));
            }

            @Override
            public void onCompleted() {
                node.offer(new ReplicaNode.StreamClosed(stream));
            }
        };
    }

    @Override
    @Blocking
    public void fetchSnapshot(SnapshotRequest request, StreamObserver<SnapshotChunk> out) {
        ReplicaNode node = lifecycle.node();
        if (node == null) {
            out.onError(Status.UNAVAILABLE.withDescription("replica starting").asRuntimeException());
            return;
        }
        ReplicaNode.SnapshotTaken snap;
        try {
            snap = node.takeSnapshot().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            out.onError(Status.UNAVAILABLE.withDescription("cannot take a checkpoint: " + e).asRuntimeException());
            return;
        }
        try {
            List<Path> files = ReplicaStore.filesOf(snap.dir());
            SnapshotHeader.Builder h = SnapshotHeader.newBuilder().setApplied(snap.applied().toProto())
                    .addAllHistory(snap.history().toProto());
            for (Path f : files) {
                h.addFiles(SnapshotFile.newBuilder().setName(f.getFileName().toString()).setSizeBytes(Files.size(f)));
            }
            out.onNext(SnapshotChunk.newBuilder().setHeader(h).build());
            byte[] buf = new byte[SNAPSHOT_CHUNK_BYTES];
            for (Path f : files) {
                try (InputStream in = Files.newInputStream(f)) {
                    long offset = 0;
                    int n;
                    while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                        out.onNext(SnapshotChunk.newBuilder().setChunk(FileChunk.newBuilder().setFileName(f.getFileName().toString())
                                .setOffset(offset).setData(ByteString.copyFrom(buf, 0, n))).build());
                        offset += n;
                    }
                }
            }
            out.onCompleted();
            LOG.infof("sent snapshot at %s (%d files) to %s", snap.applied(), files.size(), request.getFollowerId());
        } catch (IOException | RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription("snapshot transfer failed: " + e).asRuntimeException());
        } finally {
            try {
                ReplicaStore.deleteTree(snap.dir());
            } catch (IOException e) {
                LOG.warnf(e, "cannot delete checkpoint %s", snap.dir());
            }
        }
    }
}
