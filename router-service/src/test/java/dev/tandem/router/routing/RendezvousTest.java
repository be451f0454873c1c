package dev.tandem.router.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class RendezvousTest {

    private static final List<String> FOLLOWERS = List.of("r2", "r3", "r4");

    private static List<String> sessions(int n, long seed) {
        Random rnd = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(String.format("%016x", rnd.nextLong()));
        }
        return out;
    }

    @Test
    void choiceDependsOnlyOnSessionAndCandidatesNotTheirOrder() {
        for (String s : sessions(200, 1)) {
            String a = Rendezvous.pick(s, FOLLOWERS, Function.identity()).orElseThrow();
            String b = Rendezvous.pick(s, List.of("r4", "r2", "r3"), Function.identity()).orElseThrow();
            assertEquals(a, b, "session " + s);
        }
    }

    @Test
    void sessionsSpreadAcrossFollowers() {
        Map<String, Integer> counts = new HashMap<>();
        for (String s : sessions(3000, 2)) {
            counts.merge(Rendezvous.pick(s, FOLLOWERS, Function.identity()).orElseThrow(), 1, Integer::sum);
        }
        for (String f : FOLLOWERS) {
            int n = counts.getOrDefault(f, 0);
            assertTrue(n > 800 && n < 1200, "follower " + f + " got " + n + " of 3000 sessions: " + counts);
        }
    }

    @Test
    void removingAFollowerMovesOnlyItsOwnSessions() {
        List<String> without = List.of("r2", "r4");
        int moved = 0;
        for (String s : sessions(2000, 3)) {
            String before = Rendezvous.pick(s, FOLLOWERS, Function.identity()).orElseThrow();
            String after = Rendezvous.pick(s, without, Function.identity()).orElseThrow();
            if (!before.equals("r3")) {
                assertEquals(before, after, "session " + s + " moved although its follower stayed");
            } else {
                moved++;
            }
        }
        assertTrue(moved > 0);
    }

    @Test
    void noCandidateMeansNoChoice() {
        assertTrue(Rendezvous.pick("0123456789abcdef", List.<String>of(), Function.identity()).isEmpty());
    }
}
