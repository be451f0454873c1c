package dev.tandem.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ServiceProcessTest {

    @Test
    void freePortsAreUsableAndDiffer() {
        int a = FreePorts.pick();
        int b = FreePorts.pick();
        assertTrue(a > 0 && b > 0);
        assertNotEquals(0, a);
    }

    @Test
    void refusesToStartAMissingJarWithAHint() {
        ServiceProcess p = new ServiceProcess(ServiceProcess.Spec.of("x", Path.of("target/nope.jar"), FreePorts.pick(), Path.of("target/x.log")));
        IllegalStateException e = assertThrows(IllegalStateException.class, p::start);
        assertTrue(e.getMessage().contains("build it first"), e.getMessage());
        assertFalse(p.isAlive());
        assertEquals(-1, p.pid());
        assertEquals(-1, p.httpStatus("/q/health"));
    }
}
