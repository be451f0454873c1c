package dev.tandem.controller.config;

import io.smallrye.config.ConfigMapping;
import java.nio.file.Path;
import java.util.Optional;

/** Shared cluster settings ({@code tandem.cluster.*}, docs/conventions.md). */
@ConfigMapping(prefix = "tandem.cluster")
public interface ClusterConfig {

    /** The cluster secret (env TANDEM_CLUSTER_SECRET), at least 16 characters; wins over the file. */
    Optional<String> secret();

    /** A file holding the secret (a mounted Kubernetes Secret). */
    Optional<Path> secretFile();
}
