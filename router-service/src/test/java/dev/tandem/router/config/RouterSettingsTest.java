package dev.tandem.router.config;

import dev.tandem.common.ReplicaAddress;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RouterSettingsTest {

    @Test
    void replicaListParsesInOrder() {
        List<ReplicaAddress> l = ReplicaAddress.parseList(" r1=127.0.0.1:7001, r2=localhost:7002 ,");
        assertEquals(List.of(new ReplicaAddress("r1", "127.0.0.1", 7001), new ReplicaAddress("r2", "localhost", 7002)), l);
    }

    @Test
    void badReplicaListsSayWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaAddress.parseList("")).getMessage().contains("empty"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaAddress.parseList("127.0.0.1:7001")).getMessage().contains("id=host:port"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaAddress.parseList("r1=host")).getMessage().contains("host:port"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaAddress.parseList("r1=h:99999")).getMessage().contains("1..65535"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReplicaAddress.parseList("r1=h:1,r1=h:2")).getMessage().contains("twice"));
    }

    @Test
    void outOfRangeTimingsAreRejectedNamingTheKey() {
        List<ReplicaAddress> r = List.of(new ReplicaAddress("r1", "h", 1));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RouterSettings(r, 5, 200, 500, 10_000, 1, 10_000, 1 << 20, 2000))
                .getMessage().contains("tandem.router.topology-refresh-ms"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RouterSettings(r, 100, -1, 500, 10_000, 1, 10_000, 1 << 20, 2000))
                .getMessage().contains("tandem.router.session-wait-ms"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RouterSettings(r, 100, 200, 0, 10_000, 1, 10_000, 1 << 20, 2000))
                .getMessage().contains("tandem.router.read-timeout-ms"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RouterSettings(r, 100, 200, 500, 10_000, 1, 10_000, -1, 2000))
                .getMessage().contains("tandem.router.read-cache-max-bytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RouterSettings(r, 100, 200, 500, 10_000, 1, 10_000, 1 << 20, 50))
                .getMessage().contains("tandem.router.read-cache-max-silence-ms"));
        new RouterSettings(r, 100, 200, 500, 10_000, 1, 10_000, 0, 2000); // 0: no read cache
        new RouterSettings(r, 100, 200, 500, 10_000, 1, 10_000, 1 << 20, 2000);
    }
}
