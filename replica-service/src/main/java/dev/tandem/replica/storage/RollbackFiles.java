package dev.tandem.replica.storage;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tandem.proto.LogEntry;
import dev.tandem.proto.Mutation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;

/**
 * Rollback files: every entry a truncation removes is written here, as one JSON object per line,
 * and fsynced before the entry leaves the log (MongoDB's rollback directory). Format (one line):
 * <pre>
 * {"epoch":3,"lsn":1042,"timestampMs":1700000000000,"requestId":"abc","truncatedInEpoch":4,
 *  "mutations":[{"op":"put","key":"k","value":"&lt;base64&gt;","contentType":"text/plain"},
 *               {"op":"delete","key":"k2"}]}
 * </pre>
 * File name: {@code rollback-<new epoch>-<unix ms>.jsonl} under {@code <data-dir>/rollback/}.
 */
public final class RollbackFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;

    public RollbackFiles(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** Writes {@code entries} to a new file and fsyncs it and its directory; returns the file. */
    public Path write(long newEpoch, long nowMs, List<LogEntry> entries) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve("rollback-" + newEpoch + "-" + nowMs + ".jsonl");
            int n = 0;
            while (Files.exists(file)) {
                file = dir.resolve("rollback-" + newEpoch + "-" + nowMs + "-" + (++n) + ".jsonl");
            }
            StringBuilder text = new StringBuilder();
            for (LogEntry e : entries) {
                text.append(JSON.writeValueAsString(toJson(e, newEpoch))).append('\n');
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            fsyncDir(dir);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write rollback file in " + dir, e);
        }
    }

    /** Lines in every rollback file: the entries this replica has ever rolled back. */
    public long countEntries() {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(dir)) {
            long total = 0;
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".jsonl")).toList()) {
                try (Stream<String> lines = Files.lines(f)) {
                    total += lines.filter(l -> !l.isBlank()).count();
                }
            }
            return total;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode toJson(LogEntry e, long truncatedInEpoch) {
        ObjectNode o = JSON.createObjectNode();
        o.put("epoch", e.getEpoch());
        o.put("lsn", e.getLsn());
        o.put("timestampMs", e.getTimestampMs());
        o.put("requestId", e.getRequestId());
        o.put("truncatedInEpoch", truncatedInEpoch);
        ArrayNode muts = o.putArray("mutations");
        for (Mutation m : e.getMutationsList()) {
            ObjectNode mo = muts.addObject();
            if (m.hasPut()) {
                mo.put("op", "put");
                mo.put("key", m.getPut().getKey());
                mo.put("value", Base64.getEncoder().encodeToString(m.getPut().getValue().toByteArray()));
                mo.put("contentType", m.getPut().getContentType());
            } else {
                mo.put("op", "delete");
                mo.put("key", m.getDeleteKey());
            }
        }
        return o;
    }

    static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse to open directories; the file itself is fsynced already.
        }
    }
}
