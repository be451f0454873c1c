package dev.tandem.router.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import jakarta.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplyTest {

    @Test
    void replaceHeaderDropsEveryValueWhateverItsCase() {
        Reply r = Reply.status(404).header("Tandem-Served-By", "router").header("tandem-served-by", "r9").header("ETag", "\"1.2\"")
                .replaceHeader("TANDEM-SERVED-BY", "r2");
        assertEquals("r2", r.header("Tandem-Served-By"));
        assertEquals("\"1.2\"", r.header("etag"));
        assertEquals(List.of("r2"), r.toResponse().getHeaders().get("TANDEM-SERVED-BY"));
    }

    @Test
    void aNullValueAddsNoHeader() {
        Reply r = Reply.status(200).header("ETag", null);
        assertNull(r.header("ETag"));
        assertNull(r.toResponse().getHeaderString("ETag"));
    }

    @Test
    void theJaxRsFormCarriesStatusHeadersBodyAndContentType() {
        Response r = Reply.json(201, "{\"a\":1}").header("ETag", "\"1.7\"").toResponse();
        assertEquals(201, r.getStatus());
        assertEquals("\"1.7\"", r.getHeaderString("ETag"));
        assertEquals("application/json", r.getHeaderString("Content-Type"));
        assertArrayEquals("{\"a\":1}".getBytes(StandardCharsets.UTF_8), (byte[]) r.getEntity());
        Response empty = Reply.status(204).toResponse();
        assertEquals(204, empty.getStatus());
        assertNull(empty.getEntity());
    }
}
