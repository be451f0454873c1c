package dev.tandem.router;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * Starts the router. Quarkus answers a request whose URI {@code java.net.URI} refuses (a bad
 * percent-escape such as {@code /v1/kv/%ZZ} or {@code ?prefix=%ZZ}) with an empty 400 before any
 * route runs; the property turns that check off so that the request reaches the router's routes,
 * which refuse it with a problem+json answer naming the reason (dev.tandem.router.api.HttpErrors).
 * Quarkus reads it while its classes initialize, so it must be set before Quarkus starts:
 * here, and for @QuarkusTest runs in the surefire configuration.
 */
@QuarkusMain
public final class RouterMain {

    private RouterMain() {}

    public static void main(String... args) {
        System.setProperty("vertx.disableURIValidation", "true");
        Quarkus.run(args);
    }
}
