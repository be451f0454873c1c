package dev.tandem.controller.engine;

import dev.tandem.common.ClusterSecret;
import dev.tandem.controller.config.ControllerSettings;
import dev.tandem.controller.model.Member;
import dev.tandem.proto.WriteConcern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Controller settings with the shipped defaults, for tests that build the controller by hand. */
public final class TestSettings {

    private TestSettings() {}

    public static ControllerSettings settings(List<Member> members, Path stateFile, ControllerSettings.Backend backend,
                                              String namespace, Duration catchUpTimeout) {
        return settings(members, stateFile, backend, namespace, catchUpTimeout, 2000);
    }

    /** {@code leaderSeenMaxWaitMs} 0: a follower still streaming from the leader does not hold a failover back. */
    public static ControllerSettings settings(List<Member> members, Path stateFile, ControllerSettings.Backend backend,
                                              String namespace, Duration catchUpTimeout, long leaderSeenMaxWaitMs) {
        return new ControllerSettings(members, backend, stateFile, Duration.ofMillis(100), Duration.ofMillis(150),
                Duration.ofMillis(1000), 3, false, WriteConcern.WRITE_CONCERN_ONE, 300, leaderSeenMaxWaitMs, catchUpTimeout, 50, "tandem",
                namespace, 8080, "test-controller", Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2),
                ClusterSecret.of("test-secret-0123456789"));
    }
}
