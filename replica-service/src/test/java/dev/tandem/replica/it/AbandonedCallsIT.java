package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.GetRequest;
import dev.tandem.proto.GetResponse;
import dev.tandem.proto.KvServiceGrpc;
import dev.tandem.proto.Position;
import dev.tandem.proto.ReadRequirement;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Calls a client gives up on (deadline passed) must not break the other calls sharing their
 * HTTP/2 connection. A replica answering a reset stream used to make the unified gRPC server
 * close the whole connection (GOAWAY PROTOCOL_ERROR), failing, say, a router's other reads.
 */
class AbandonedCallsIT {

    @Test
    void answersNobodyWaitsForDoNotTearDownTheConnection() throws Exception {
        try (ReplicaCluster c = new ReplicaCluster("abandoned", 1, Map.of()).startAll()) {
            ManagedChannel ch = ManagedChannelBuilder.forTarget(c.process("r1").address()).usePlaintext().build();
            try {
                KvServiceGrpc.KvServiceBlockingStub kv = KvServiceGrpc.newBlockingStub(ch);
                // The replica holds each of these reads 40 ms for a position it will not reach,
                // then answers NOT_CAUGHT_UP: 25 ms after the client reset the stream.
                GetRequest waiting = GetRequest.newBuilder().setKey("k").setRead(ReadRequirement.newBuilder()
                        .setMinPosition(Position.newBuilder().setEpoch(1).setLsn(1_000_000)).setWaitMs(40)).build();
                List<String> failures = new ArrayList<>();
                int abandoned = 0;
                int answered = 0;
                for (int i = 0; i < 60; i++) {
                    try {
                        kv.withDeadlineAfter(15, TimeUnit.MILLISECONDS).get(waiting);
                    } catch (StatusRuntimeException e) {
                        if (e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
                            abandoned++;
                        } else {
                            failures.add("abandoned call: " + e.getStatus());
                        }
                    }
                    // An ordinary call on the same connection, sent while the late answer is due.
                    Thread.sleep(30);
                    try {
                        GetResponse r = kv.withDeadlineAfter(5, TimeUnit.SECONDS).get(GetRequest.newBuilder().setKey("k").build());
                        assertEquals(ErrorCode.OK, r.getError().getCode(), r.toString());
                        answered++;
                    } catch (StatusRuntimeException e) {
                        failures.add("ordinary call " + i + ": " + e.getStatus());
                    }
                }
                System.out.printf("abandoned %d calls; %d ordinary calls answered; failures: %s%n", abandoned, answered, failures);
                assertTrue(abandoned >= 30, "the slow reads were meant to outlive their deadline: " + abandoned);
                assertEquals(List.of(), failures);
            } finally {
                ch.shutdownNow();
            }
        }
    }
}
