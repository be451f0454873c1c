package dev.tandem.cli.client;

import dev.tandem.common.ClusterSecret;
import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.InfoRequest;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.ReadRequirement;
import dev.tandem.proto.ReplicaInfo;
import dev.tandem.proto.ScanRequest;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.StatusRequest;
import dev.tandem.proto.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** A gRPC client for one replica: public Info and KV reads, and admin Status with the cluster secret. */
public final class ReplicaClient implements AutoCloseable {

    /** Default deadline of one call; a paused replica must not stall a status command. */
    public static final long CALL_TIMEOUT_MS = 1000;

    private final String id;
    private final String address;
    private final ManagedChannel channel;
    private final ClusterSecret secret;

    public ReplicaClient(String id, String address, ClusterSecret secret) {
        this.id = id;
        this.address = address;
        this.secret = secret;
        this.channel = NettyChannelBuilder.forTarget(address).usePlaintext().build();
    }

    public String id() {
        return id;
    }

    public String address() {
        return address;
    }

    public ReplicaInfo info(long timeoutMs) {
        return KvServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                .info(InfoRequest.getDefaultInstance());
    }

    /** Info, or empty when the replica does not answer in time (dead, paused, partitioned). */
    public Optional<ReplicaInfo> tryInfo(long timeoutMs) {
        try {
            return Optional.of(info(timeoutMs));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    public StatusResponse status(boolean includeDigest, long timeoutMs) {
        if (secret == null) {
            throw new IllegalStateException("AdminService.Status needs the cluster secret (--secret-file or a local cluster)");
        }
        return AdminServiceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(secret.asMetadata()))
                .withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                .status(StatusRequest.newBuilder().setIncludeDigest(includeDigest).build());
    }

    public Optional<StatusResponse> tryStatus(boolean includeDigest, long timeoutMs) {
        try {
            return Optional.of(status(includeDigest, timeoutMs));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    public GetResponse get(String key, ReadRequirement read, long timeoutMs) {
        return KvServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                .get(GetRequest.newBuilder().setKey(key).setRead(read).build());
    }

    public ScanResponse scan(String prefix, String cursor, int limit, ReadRequirement read, long timeoutMs) {
        return KvServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                .scan(ScanRequest.newBuilder().setPrefix(prefix).setCursor(cursor).setLimit(limit).setRead(read).build());
    }

    public KvServiceGrpc.KvServiceBlockingStub kv() {
        return KvServiceGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
