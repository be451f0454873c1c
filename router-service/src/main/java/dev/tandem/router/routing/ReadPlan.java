package dev.tandem.router.routing;

import java.util.Optional;

/**
 * Where a read goes first and what happens if that replica cannot serve it. {@code follower} is
 * empty when no follower qualifies; then the leader serves at once and {@code noFollowerReason}
 * says why. {@code waitMs} is how long the follower may wait for the session position.
 */
public record ReadPlan(Optional<String> follower, long waitMs, boolean leaderFallbackAllowed, FallbackReason noFollowerReason) {

    public enum FallbackReason {
        NOT_CAUGHT_UP, PINNED_UNHEALTHY, NO_FOLLOWER, STRONG;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public static ReadPlan leaderOnly(FallbackReason why) {
        return new ReadPlan(Optional.empty(), 0, true, why);
    }

    public static ReadPlan follower(String id, long waitMs) {
        return new ReadPlan(Optional.of(id), waitMs, true, null);
    }
}
