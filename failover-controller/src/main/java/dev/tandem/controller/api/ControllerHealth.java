package dev.tandem.controller.api;

import dev.tandem.controller.ControllerApp;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * Live and ready while the control loop completes rounds: a loop stuck for longer than
 * {@link #STALL_MS} (plus any switchover catch-up wait) means the process no longer does its job.
 */
@ApplicationScoped
public class ControllerHealth {

    /** A round may take a probe timeout plus commands; beyond this the loop is stuck, in ms. */
    static final long STALL_MS = 10_000;

    @Inject
    ControllerApp app;

    private HealthCheckResponse check(String name) {
        long last = app.loop() == null ? 0 : app.loop().lastTickDoneMs();
        long age = System.currentTimeMillis() - last;
        long limit = STALL_MS + app.settings().switchoverCatchUpTimeout().toMillis();
        return HealthCheckResponse.named(name).status(last > 0 && age <= limit)
                .withData("lastRoundMsAgo", age).withData("active", app.loop() != null && app.loop().snapshot().active())
                .build();
    }

    @Liveness
    public HealthCheck live() {
        return () -> check("controller-loop");
    }

    @Readiness
    public HealthCheck ready() {
        return () -> check("controller-loop");
    }
}
