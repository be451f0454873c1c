package dev.tandem.controller.state;

import dev.tandem.controller.model.ClusterState;

/**
 * A cluster state as read from a store, with the opaque version to compare-and-set against
 * (the ConfigMap's resourceVersion, or the file's version counter).
 */
public record StoredState(ClusterState state, String version) {}
