/**
 * Where each request goes. The router holds no session state: a read's route is a pure function
 * of the polled topology ({@code ReadPlanner}), the consistency level and the session token, so
 * any router makes the same choice for a session, and rendezvous hashing keeps a session on one
 * follower while that follower is healthy and caught up.
 *
 * <p>Correctness never rests on the router's picture of the cluster, which is up to one refresh
 * old: every read carries its requirement (min position checked against the replica's own epoch
 * history, staleness bound, leader-only) and the replica refuses what it cannot honour. A stale
 * picture therefore costs a fallback to the leader, never a read that goes back in time.
 */
package dev.tandem.router.routing;
