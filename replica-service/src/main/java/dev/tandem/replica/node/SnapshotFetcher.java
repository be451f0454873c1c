package dev.tandem.replica.node;

import dev.tandem.common.ClusterSecret;
import dev.tandem.common.EpochHistory;
import dev.tandem.common.LogPosition;
import dev.tandem.proto.FileChunk;
import dev.tandem.proto.ReplicationServiceGrpc;
import dev.tandem.proto.SnapshotChunk;
import dev.tandem.proto.SnapshotFile;
import dev.tandem.proto.SnapshotHeader;
import dev.tandem.proto.SnapshotRequest;
import io.grpc.ManagedChannel;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Follower side of FetchSnapshot: downloads a leader's checkpoint, file by file, and fsyncs it. */
final class SnapshotFetcher {

    /** Longest a whole snapshot download may take, in seconds. */
    static final long FETCH_TIMEOUT_S = 600;

    record Result(LogPosition applied, EpochHistory history) {}

    private SnapshotFetcher() {}

    static Result fetch(ManagedChannel channel, ClusterSecret secret, String selfId, long epoch, Path dir) {
        try {
            Files.createDirectories(dir);
            Iterator<SnapshotChunk> it = ReplicationServiceGrpc.newBlockingStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(secret.asMetadata()))
                    .withDeadlineAfter(FETCH_TIMEOUT_S, TimeUnit.SECONDS)
                    .fetchSnapshot(SnapshotRequest.newBuilder().setFollowerId(selfId).setEpoch(epoch).build());
            SnapshotHeader header = null;
            Map<String, FileChannel> open = new HashMap<>();
            try {
                while (it.hasNext()) {
                    SnapshotChunk c = it.next();
                    if (c.hasHeader()) {
                        header = c.getHeader();
                        continue;
                    }
                    if (header == null) {
                        throw new IllegalStateException("snapshot chunk before its header");
                    }
                    FileChunk fc = c.getChunk();
                    String name = Path.of(fc.getFileName()).getFileName().toString();
                    if (!name.equals(fc.getFileName()) || name.startsWith(".")) {
                        throw new IllegalStateException("snapshot file name '" + fc.getFileName() + "' is not a plain name");
                    }
                    FileChannel ch = open.get(name);
                    if (ch == null) {
                        ch = FileChannel.open(dir.resolve(name), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                        open.put(name, ch);
                    }
                    ch.write(fc.getData().asReadOnlyByteBuffer(), fc.getOffset());
                }
                for (FileChannel ch : open.values()) {
                    ch.force(true);
                }
            } finally {
                for (FileChannel ch : open.values()) {
                    ch.close();
                }
            }
            if (header == null) {
                throw new IllegalStateException("snapshot stream had no header");
            }
            for (SnapshotFile f : header.getFilesList()) {
                Path p = dir.resolve(f.getName());
                if (!Files.exists(p)) {
                    Files.createFile(p);
                }
                if (Files.size(p) != f.getSizeBytes()) {
                    throw new IllegalStateException("snapshot file " + f.getName() + " has " + Files.size(p) + " bytes, expected " + f.getSizeBytes());
                }
            }
            return new Result(LogPosition.of(header.getApplied()), EpochHistory.fromProto(header.getHistoryList()));
        } catch (IOException e) {
            throw new UncheckedIOException("snapshot download into " + dir + " failed", e);
        }
    }
}
