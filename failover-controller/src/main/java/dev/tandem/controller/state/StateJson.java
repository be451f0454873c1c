package dev.tandem.controller.state;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tandem.controller.model.ClusterState;
import java.io.IOException;
import java.io.UncheckedIOException;

/** JSON form of the cluster state (the ConfigMap's state.json and the local file). */
public final class StateJson {

    /** Unknown fields are ignored so an older controller can read a newer controller's state. */
    static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private StateJson() {}

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static ClusterState readState(String json) {
        return read(json, ClusterState.class);
    }

    public static <T> T read(String json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (IOException e) {
            throw new IllegalStateException("cluster state is not valid JSON: " + e.getMessage(), e);
        }
    }
}
