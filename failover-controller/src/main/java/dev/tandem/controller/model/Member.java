package dev.tandem.controller.model;

import java.util.ArrayList;
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

    /** Parses {@code id=host:port,id=host:port} (docs/conventions.md). Ids must be unique. */
    public static List<Member> parseList(String text) {
        List<Member> out = new ArrayList<>();
        if (text == null || text.isBlank()) {
            return out;
        }
        for (String part : text.split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1) {
                throw new IllegalArgumentException("replica list entries look like id=host:port, got '" + p + "'");
            }
            Member m = new Member(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
            if (out.stream().anyMatch(o -> o.id().equals(m.id()))) {
                throw new IllegalArgumentException("replica id " + m.id() + " listed twice");
            }
            if (out.stream().anyMatch(o -> o.address().equals(m.address()))) {
                throw new IllegalArgumentException("address " + m.address() + " listed for two replicas");
            }
            out.add(m);
        }
        return out;
    }
}
