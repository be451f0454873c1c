package dev.tandem.replica.storage;

import dev.tandem.common.LogPosition;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A key's state: its value, content type and version (the position of the entry that last wrote
 * it). Encoded in the data column family as {@code epoch(8) lsn(8) ctLen(2) ct value}.
 */
public record StoredValue(byte[] value, String contentType, LogPosition version) {

    public byte[] encode() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(value.length + 32);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeLong(version.epoch());
            out.writeLong(version.lsn());
            out.writeUTF(contentType == null ? "" : contentType);
            out.write(value);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static StoredValue decode(byte[] raw) {
        try {
            DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(raw));
            long epoch = in.readLong();
            long lsn = in.readLong();
            String ct = in.readUTF();
            byte[] value = in.readAllBytes();
            return new StoredValue(value, ct, new LogPosition(epoch, lsn));
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt stored value", e);
        }
    }
}
