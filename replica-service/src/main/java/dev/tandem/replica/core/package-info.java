/**
 * The pure replication core: roles, epochs, fencing, write-concern acknowledgement, leader
 * lease, log divergence and shipping windows. No gRPC, RocksDB, Quarkus, threads or clock in
 * here: every method takes {@code nowMs} and returns what the caller must do. One thread (the
 * driver in {@code dev.tandem.replica.node}) owns a {@link dev.tandem.replica.core.ReplicaCore}
 * and performs the I/O in a fixed order: persist, then send, then complete client requests.
 * That is what lets {@code ReplicationSimulationTest} run hundreds of seeded schedules with
 * crashes, drops and partitions, checking the DESIGN.md invariants after every step.
 */
package dev.tandem.replica.core;
