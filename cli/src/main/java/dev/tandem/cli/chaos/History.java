package dev.tandem.cli.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleFunction;

/**
 * The history of a run as it happens. Times are taken under the lock, so events are in time order
 * in the list and in the file; that is what lets the checker pair each completion with the one
 * open invocation of its client.
 */
public final class History {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final long startNanos = System.nanoTime();
    private final List<Event> events = new ArrayList<>();

    public synchronized Event record(DoubleFunction<Event> make) {
        Event e = make.apply((System.nanoTime() - startNanos) / 1e6);
        events.add(e);
        return e;
    }

    public synchronized double nowMs() {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    public synchronized List<Event> snapshot() {
        return List.copyOf(events);
    }

    public static void writeJsonLines(List<Event> events, Path file) {
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (Event e : events) {
                w.write(JSON.writeValueAsString(e));
                w.newLine();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static List<Event> readJsonLines(Path file) {
        List<Event> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file)) {
                if (!line.isBlank()) {
                    out.add(JSON.readValue(line, Event.class));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return out;
    }
}
