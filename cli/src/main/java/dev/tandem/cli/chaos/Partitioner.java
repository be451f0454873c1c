package dev.tandem.cli.chaos;

import dev.tandem.cli.local.Netns;

/**
 * Cuts a replica off the network and heals it, or says why it cannot. The only real one puts the
 * replica's veth link down in the run's hub namespace ({@link Netns}); without namespaces
 * partition faults are left out of the schedule with {@link #unavailableReason()}.
 */
public interface Partitioner {

    /** Null when partitions can be injected; otherwise why not, for a one-line message. */
    String unavailableReason();

    void cut(String replica);

    void heal(String replica);

    static Partitioner unavailable(String reason) {
        return new Partitioner() {
            @Override
            public String unavailableReason() {
                return reason;
            }

            @Override
            public void cut(String replica) {
                throw new IllegalStateException("partitions unavailable: " + reason);
            }

            @Override
            public void heal(String replica) {
                // nothing was cut
            }
        };
    }

    static Partitioner namespaces(Netns.Layout layout) {
        return new Partitioner() {
            @Override
            public String unavailableReason() {
                return null;
            }

            @Override
            public void cut(String replica) {
                Netns.cut(layout, replica);
            }

            @Override
            public void heal(String replica) {
                Netns.heal(layout, replica);
            }
        };
    }
}
