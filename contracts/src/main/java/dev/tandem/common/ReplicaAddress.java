package dev.tandem.common;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One replica as an operator names it: {@code id=host:port}. The one parser of replica lists for
 * every service's configuration (docs/conventions.md).
 */
public record ReplicaAddress(String id, String host, int port) {

    public ReplicaAddress {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("replica id must not be empty");
        }
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("replica " + id + " has no host");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("replica " + id + " has port " + port + " outside 1..65535");
        }
    }

    public String address() {
        return host + ":" + port;
    }

    /** Parses {@code host:port}; the message says what is wrong. */
    public static ReplicaAddress ofAddress(String id, String hostPort) {
        String text = hostPort == null ? "" : hostPort.trim();
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("replica " + id + ": address must look like host:port, got '" + hostPort + "'");
        }
        try {
            return new ReplicaAddress(id, text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("replica " + id + ": port is not a number in '" + hostPort + "'");
        }
    }

    /** Parses {@code id=host:port,id=host:port}; ids and addresses must be unique and the list non-empty. */
    public static List<ReplicaAddress> parseList(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("replica list is empty; expected id=host:port,id=host:port");
        }
        Map<String, ReplicaAddress> byId = new LinkedHashMap<>();
        for (String item : text.split(",")) {
            String trimmed = item.trim();
            if (trimmed.isEmpty()) {
                continue;
            }
            int eq = trimmed.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("replica entry must look like id=host:port, got '" + trimmed + "'");
            }
            ReplicaAddress r = ofAddress(trimmed.substring(0, eq).trim(), trimmed.substring(eq + 1));
            if (byId.put(r.id(), r) != null) {
                throw new IllegalArgumentException("replica id " + r.id() + " appears twice in '" + text + "'");
            }
            for (ReplicaAddress other : byId.values()) {
                if (other != r && other.address().equals(r.address())) {
                    throw new IllegalArgumentException("address " + r.address() + " is given for two replicas, " + other.id() + " and " + r.id());
                }
            }
        }
        if (byId.isEmpty()) {
            throw new IllegalArgumentException("replica list is empty; expected id=host:port,id=host:port");
        }
        return new ArrayList<>(byId.values());
    }
}
