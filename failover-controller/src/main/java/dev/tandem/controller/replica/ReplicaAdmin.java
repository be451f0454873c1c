package dev.tandem.controller.replica;

import dev.tandem.controller.model.Member;
import dev.tandem.proto.StatusResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The controller's side of AdminService (admin.proto); every call carries the cluster secret. */
public interface ReplicaAdmin extends AutoCloseable {

    /** Completes exceptionally when the replica cannot be reached within {@code deadline}. */
    CompletableFuture<StatusResponse> status(Member replica, Duration deadline);

    CommandOutcome promote(Member replica, long epoch, List<Member> members, String failoverId, Duration deadline);

    CommandOutcome follow(Member replica, long epoch, Member leader, List<Member> members, String failoverId, Duration deadline);

    CommandOutcome stepDown(Member replica, long epoch, String failoverId, Duration deadline);

    @Override
    void close();
}
