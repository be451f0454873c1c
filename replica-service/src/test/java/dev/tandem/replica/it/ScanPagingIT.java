package dev.tandem.replica.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.KeyValue;
import dev.tandem.proto.Op;
import dev.tandem.proto.Put;
import dev.tandem.proto.ScanRequest;
import dev.tandem.proto.ScanResponse;
import dev.tandem.proto.WriteConcern;
import dev.tandem.proto.WriteRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A scan over values at the size limit comes back in pages a default gRPC client accepts (4 MiB
 * per message), not as one answer the client refuses with RESOURCE_EXHAUSTED on every retry.
 */
class ScanPagingIT {

    @Test
    void largeValuesArePagedUnderTheClientsMessageLimit() {
        try (ReplicaCluster c = new ReplicaCluster("scan-paging", 1, Map.of("tandem.replica.min-write-concern", "leader")).startAll()) {
            c.form("r1", 1);
            ByteString mib = ByteString.copyFrom(new byte[1 << 20]);
            for (int i = 0; i < 5; i++) {
                ErrorCode code = c.kv("r1").write(WriteRequest.newBuilder().setWriteConcern(WriteConcern.WRITE_CONCERN_LEADER)
                        .addOps(Op.newBuilder().setPut(Put.newBuilder().setKey("big/" + i).setValue(mib))).build()).getError().getCode();
                assertEquals(ErrorCode.OK, code);
            }
            List<String> keys = new ArrayList<>();
            String cursor = "";
            int pages = 0;
            do {
                // c.kv uses a channel with grpc-java's default inbound limit, 4 MiB, like the router's.
                ScanResponse page = c.kv("r1").scan(ScanRequest.newBuilder().setPrefix("big/").setLimit(100).setCursor(cursor).build());
                assertFalse(page.hasError() && page.getError().getCode() != ErrorCode.OK, () -> "scan failed: " + page.getError());
                assertTrue(page.getItemsCount() > 0, "a page with a cursor before it holds at least one item");
                page.getItemsList().stream().map(KeyValue::getKey).forEach(keys::add);
                cursor = page.getNextCursor();
                pages++;
            } while (!cursor.isEmpty());
            assertEquals(List.of("big/0", "big/1", "big/2", "big/3", "big/4"), keys);
            assertEquals(3, pages, "3 MiB of keys and values per page: two 1 MiB values each");
        }
    }
}
