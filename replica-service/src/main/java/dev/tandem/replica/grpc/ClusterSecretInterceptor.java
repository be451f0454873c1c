package dev.tandem.replica.grpc;

import dev.tandem.proto.AdminServiceGrpc;
import dev.tandem.proto.ReplicationServiceGrpc;
import dev.tandem.replica.node.ReplicaLifecycle;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Admin and replication RPCs require the cluster secret in metadata
 * ({@link dev.tandem.common.ClusterSecret#METADATA_KEY}); KvService stays open. Checked per call
 * by service name, so a new admin method cannot be added unprotected by forgetting an annotation.
 */
@ApplicationScoped
@GlobalInterceptor
public class ClusterSecretInterceptor implements ServerInterceptor {

    private final ReplicaLifecycle lifecycle;

    public ClusterSecretInterceptor(ReplicaLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String service = call.getMethodDescriptor().getServiceName();
        boolean protectedService = AdminServiceGrpc.SERVICE_NAME.equals(service) || ReplicationServiceGrpc.SERVICE_NAME.equals(service);
        if (protectedService) {
            var node = lifecycle.node();
            if (node == null) {
                call.close(Status.UNAVAILABLE.withDescription("replica starting"), new Metadata());
                return new ServerCall.Listener<>() {};
            }
            if (!node.settings().secret().matches(headers.get(dev.tandem.common.ClusterSecret.METADATA_KEY))) {
                call.close(Status.UNAUTHENTICATED.withDescription("missing or wrong cluster secret (metadata "
                        + dev.tandem.common.ClusterSecret.METADATA_KEY.name() + ")"), new Metadata());
                return new ServerCall.Listener<>() {};
            }
        }
        return next.startCall(call, headers);
    }
}
