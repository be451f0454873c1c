package dev.tandem.controller.state;

import dev.tandem.controller.model.ClusterState;
import java.util.Optional;

/**
 * Where the cluster state lives: a Kubernetes ConfigMap or a local file. Every write is a
 * compare-and-set against the version read, so two controllers can never both believe they
 * moved the cluster to the same new epoch.
 */
public interface ClusterStateStore {

    /** The current state, or empty before bootstrap. */
    Optional<StoredState> read();

    /**
     * Writes {@code next} if the stored version is still {@code expectedVersion} (null: only if
     * nothing is stored yet). Returns the new stored value.
     */
    StoredState compareAndSet(String expectedVersion, ClusterState next) throws CasConflictException;

    /** For logs: where the state is kept. */
    String describe();
}
