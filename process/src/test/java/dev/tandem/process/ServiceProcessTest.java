package dev.tandem.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ServiceProcessTest {

    @Test
    void propertiesFromAListOfSettings() {
        assertEquals(Map.of("a.b", "1", "c", "x=y"), ServiceProcess.propertiesFrom(" a.b = 1 ,c=x=y,"));
        assertEquals(Map.of(), ServiceProcess.propertiesFrom(""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServiceProcess.propertiesFrom("a=1,oops"));
        assertTrue(e.getMessage().contains("'oops'"), e.getMessage());
    }

    @Test
    void freePortsAreDistinctAcrossACluster() {
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < 50; i++) {
            int port = FreePorts.pick();
            assertTrue(port > 0 && port < 65536, "port " + port);
            assertTrue(seen.add(port), "port " + port + " handed out twice");
        }
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

    @Test
    void servicesGetTheDefaultJvmOptionsUnlessThePropertyReplacesThem() {
        Path jar = Path.of("target/nope.jar");
        assertEquals(List.of("-Xmx256m", "-XX:+UseG1GC"), ServiceProcess.Spec.of("x", jar, 1, Path.of("x.log")).jvmArgs());
        System.setProperty(ServiceProcess.JVM_ARGS_PROPERTY, "  -Xmx128m   -XX:+UseParallelGC ");
        try {
            assertEquals(List.of("-Xmx128m", "-XX:+UseParallelGC"), ServiceProcess.Spec.of("x", jar, 1, Path.of("x.log")).jvmArgs());
            System.setProperty(ServiceProcess.JVM_ARGS_PROPERTY, " ");
            assertEquals(List.of(), ServiceProcess.Spec.of("x", jar, 1, Path.of("x.log")).jvmArgs());
        } finally {
            System.clearProperty(ServiceProcess.JVM_ARGS_PROPERTY);
        }
    }
}
