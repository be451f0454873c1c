package dev.tandem.replica.kv;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.tandem.proto.Op;
import dev.tandem.proto.WriteRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * What a write asks for, as a SHA-256 over its ops, so that a request id reused for another
 * write can be told from a retry of the same one. Only the ops count: the write concern and the
 * confirm timeout say how long to wait for the answer, not what to write, so a retry that asks
 * for another concern is still the same write. Each op is serialized deterministically (proto
 * field order, no map-order freedom) and length-prefixed, so the boundaries between ops count too.
 */
public final class RequestFingerprint {

    private RequestFingerprint() {}

    /** The fingerprint of {@code request}'s ops: 32 bytes. */
    public static ByteString of(WriteRequest request) {
        MessageDigest sha = sha256();
        byte[] lengthPrefix = new byte[4];
        for (Op op : request.getOpsList()) {
            byte[] bytes = deterministicBytes(op);
            int n = bytes.length;
            lengthPrefix[0] = (byte) (n >>> 24);
            lengthPrefix[1] = (byte) (n >>> 16);
            lengthPrefix[2] = (byte) (n >>> 8);
            lengthPrefix[3] = (byte) n;
            sha.update(lengthPrefix);
            sha.update(bytes);
        }
        return ByteString.copyFrom(sha.digest());
    }

    private static byte[] deterministicBytes(Op op) {
        byte[] out = new byte[op.getSerializedSize()];
        CodedOutputStream cos = CodedOutputStream.newInstance(out);
        cos.useDeterministicSerialization();
        try {
            op.writeTo(cos);
            cos.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new UncheckedIOException("serializing an op into an array of its own size", e);
        }
        return out;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
