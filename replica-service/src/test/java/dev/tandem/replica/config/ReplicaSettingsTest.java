package dev.tandem.replica.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.proto.WriteConcern;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReplicaSettingsTest {

    private static ReplicaSettings settings(Map<String, String> props) {
        SmallRyeConfig config = new SmallRyeConfigBuilder().withMapping(ReplicaConfig.class).withMapping(ClusterConfig.class)
                .withSources(new PropertiesConfigSource(props, "test", 500)).build();
        return ReplicaSettings.from(config.getConfigMapping(ReplicaConfig.class), config.getConfigMapping(ClusterConfig.class), 7001);
    }

    private static Map<String, String> required() {
        Map<String, String> p = new HashMap<>();
        p.put("tandem.replica.id", "r1");
        p.put("tandem.replica.data-dir", "target/unit-data/cfg");
        p.put("tandem.cluster.secret", "0123456789abcdef");
        return p;
    }

    @Test
    void defaultsAreThoseOfTheConventions() {
        ReplicaSettings s = settings(required());
        assertEquals(WriteConcern.WRITE_CONCERN_ONE, s.defaultWriteConcern());
        assertEquals(WriteConcern.WRITE_CONCERN_ONE, s.minWriteConcern());
        assertEquals(400, s.leaseMs());
        assertEquals(50, s.heartbeatIntervalMs());
        assertEquals(5000, s.confirmTimeoutMs());
        assertEquals(1024, s.maxKeyBytes());
        assertEquals(1048576, s.maxValueBytes());
        assertEquals(1000, s.maxBatchOps());
        assertEquals(4194304, s.maxBatchBytes());
        assertEquals(10000, s.readyMaxLagEntries());
        assertEquals("127.0.0.1:7001", s.advertisedAddress());
    }

    @Test
    void everyInvalidValueIsReportedAtOnce() {
        Map<String, String> p = required();
        p.put("tandem.replica.default-write-concern", "quorum");
        p.put("tandem.replica.lease-ms", "0");
        p.put("tandem.cluster.secret", "short");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(p));
        assertTrue(e.getMessage().contains("default-write-concern"), e.getMessage());
        assertTrue(e.getMessage().contains("lease-ms"), e.getMessage());
        assertTrue(e.getMessage().contains("16 characters"), e.getMessage());
    }

    @Test
    void heartbeatMustBeShorterThanTheLease() {
        Map<String, String> p = required();
        p.put("tandem.replica.heartbeat-interval-ms", "500");
        assertThrows(IllegalArgumentException.class, () -> settings(p));
    }
}
