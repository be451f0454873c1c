package dev.tandem.router.routing;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Optional;
import java.util.function.Function;

/**
 * Rendezvous (highest-random-weight) hashing: a session goes to the candidate with the highest
 * hash of (session id, replica id). Every router computes the same choice with no shared state,
 * and when a candidate leaves only the sessions that were on it move.
 */
public final class Rendezvous {

    private Rendezvous() {}

    public static <T> Optional<T> pick(String sessionId, Collection<T> candidates, Function<T, String> idOf) {
        T best = null;
        long bestScore = 0;
        for (T c : candidates) {
            long score = score(sessionId, idOf.apply(c));
            // Ties (practically impossible with 64 bits) break by id so every router agrees.
            if (best == null || Long.compareUnsigned(score, bestScore) > 0
                    || (score == bestScore && idOf.apply(c).compareTo(idOf.apply(best)) < 0)) {
                best = c;
                bestScore = score;
            }
        }
        return Optional.ofNullable(best);
    }

    /** FNV-1a over "session/replica", then a 64-bit finalizer (splitmix64) so that near ids spread. */
    static long score(String sessionId, String replicaId) {
        long h = 0xcbf29ce484222325L;
        for (byte b : (sessionId + "/" + replicaId).getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 30;
        h *= 0xbf58476d1ce4e5b9L;
        h ^= h >>> 27;
        h *= 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return h;
    }
}
