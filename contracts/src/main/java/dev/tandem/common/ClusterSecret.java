package dev.tandem.common;

import io.grpc.Metadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * The shared secret that admin and replication RPCs carry in gRPC metadata. Loaded from a file
 * (a mounted Kubernetes Secret) or given directly (env {@code TANDEM_CLUSTER_SECRET}).
 */
public final class ClusterSecret {

    public static final Metadata.Key<String> METADATA_KEY =
            Metadata.Key.of("tandem-cluster-secret", Metadata.ASCII_STRING_MARSHALLER);

    /** Shortest secret accepted, in characters: a guessable secret is no fence. */
    public static final int MIN_LENGTH_CHARS = 16;

    private final String value;

    private ClusterSecret(String value) {
        if (value.length() < MIN_LENGTH_CHARS) {
            throw new IllegalArgumentException("cluster secret must have at least " + MIN_LENGTH_CHARS + " characters");
        }
        this.value = value;
    }

    public static ClusterSecret of(String value) {
        return new ClusterSecret(value.trim());
    }

    /** Value wins over file; one of them must be set. */
    public static ClusterSecret load(Optional<String> value, Optional<Path> file) {
        if (value.isPresent() && !value.get().isBlank()) {
            return of(value.get());
        }
        if (file.isPresent()) {
            try {
                return of(Files.readString(file.get(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read cluster secret file " + file.get(), e);
            }
        }
        throw new IllegalStateException("no cluster secret: set tandem.cluster.secret (env TANDEM_CLUSTER_SECRET) or tandem.cluster.secret-file");
    }

    public String value() {
        return value;
    }

    /** Constant-time comparison, so response timing does not leak the secret. */
    public boolean matches(String presented) {
        if (presented == null) {
            return false;
        }
        return MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    public Metadata asMetadata() {
        Metadata m = new Metadata();
        m.put(METADATA_KEY, value);
        return m;
    }

    @Override
    public String toString() {
        return "ClusterSecret[redacted]";
    }
}
