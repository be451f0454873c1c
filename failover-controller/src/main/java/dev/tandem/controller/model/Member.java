package dev.tandem.controller.model;

import dev.tandem.common.ReplicaAddress;
import java.util.List;

/** One replica of the set: stable id and the host:port it serves gRPC on. */
public record Member(String id, String address) {

    public Member {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("member id must not be blank");
        }
        if (address == null || !address.matches("[^:\\s]+:\\d{1,5}")) {
            throw new IllegalArgumentException("member " + id + " address must be host:port, got '" + address + "'");
        }
    }

    public dev.tandem.proto.Member toProto() {
        return dev.tandem.proto.Member.newBuilder().setId(id).setAddress(address).build();
    }

    /**
     * Parses {@code id=host:port,id=host:port} (docs/conventions.md); blank means none (on
     * Kubernetes the replicas are discovered by label).
     */
    public static List<Member> parseList(String text) {
        if (text == null || text.isBlank()) {
            return List.of();
        }
        return ReplicaAddress.parseList(text).stream().map(r -> new Member(r.id(), r.address())).toList();
    }
}
