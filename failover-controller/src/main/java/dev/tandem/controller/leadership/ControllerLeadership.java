package dev.tandem.controller.leadership;

/**
 * Which controller instance may act. Only the active one changes the cluster state or commands
 * replicas; the others observe (and serve metrics) so they can take over at once.
 */
public interface ControllerLeadership extends AutoCloseable {

    void start();

    boolean isActive();

    String identity();

    @Override
    void close();
}
