package dev.tandem.controller.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class MemberTest {

    @Test
    void parsesTheConventionalReplicaList() {
        assertEquals(List.of(new Member("r1", "127.0.0.1:7001"), new Member("r2", "127.0.0.1:7002")),
                Member.parseList(" r1=127.0.0.1:7001, r2=127.0.0.1:7002 "));
    }

    @Test
    void rejectsDuplicateIdsAndAddressesAndMalformedEntries() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Member.parseList("r1=a:1,r1=b:2")).getMessage().contains("twice"));
        // Two replicas on one address would make the controller command one replica as two.
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Member.parseList("r1=a:1,r2=a:1")).getMessage()
                .contains("two replicas"));
        assertThrows(IllegalArgumentException.class, () -> Member.parseList("r1"));
        assertThrows(IllegalArgumentException.class, () -> Member.parseList("r1=localhost"));
    }
}
