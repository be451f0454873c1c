package dev.tandem.router.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.proto.ErrorCode;
import dev.tandem.proto.Op;
import dev.tandem.router.routing.RouterException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TxnParserTest {

    private static List<Op> parse(String json) {
        return TxnParser.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String rejected(String json) {
        RouterException e = assertThrows(RouterException.class, () -> parse(json), json);
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        return e.getMessage();
    }

    @Test
    void allOpKindsAndConditionsParse() {
        List<Op> ops = parse("""
                {"ops": [
                  {"op": "check", "key": "a", "condition": {"version": "1.7"}},
                  {"op": "put", "key": "b", "value": "héllo", "condition": {"exists": false}},
                  {"op": "put", "key": "c", "valueBase64": "AAEC", "contentType": "application/x-raw"},
                  {"op": "delete", "key": "d", "condition": {"exists": true}}
                ]}""");
        assertEquals(4, ops.size());
        assertEquals(7, ops.get(0).getCheck().getCondition().getExpectedVersion().getLsn());
        assertEquals("héllo", ops.get(1).getPut().getValue().toStringUtf8());
        assertTrue(ops.get(1).getPut().getCondition().getMustNotExist());
        assertEquals("text/plain; charset=utf-8", ops.get(1).getPut().getContentType());
        assertEquals(3, ops.get(2).getPut().getValue().size());
        assertEquals("application/x-raw", ops.get(2).getPut().getContentType());
        assertTrue(ops.get(3).getDelete().getCondition().getMustExist());
    }

    @Test
    void malformedBatchesAreRejectedWithTheOpIndex() {
        assertTrue(rejected("[]").contains("{\"ops\""));
        assertTrue(rejected("{\"ops\": []}").contains("at least one op"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"x\", \"valueBase64\": \"eA==\"}]}").contains("exactly one of"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"check\", \"key\": \"a\"}]}").contains("needs a condition"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"x\", \"condition\": {\"version\": \"1.2\", \"exists\": true}}]}").contains("exactly one of"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"x\", \"ifMatch\": \"1.2\"}]}").contains("unknown field 'ifMatch'"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"upsert\", \"key\": \"a\"}]}").contains("put, delete or check"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"delete\", \"key\": \"a\", \"value\": \"x\"}]}").contains("takes no value"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"\", \"value\": \"x\"}]}").contains("ops[0]"));
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"a\", \"valueBase64\": \"***\"}]}").contains("not base64"));
        assertTrue(rejected("{\"ops\": [").contains("not valid JSON"));
    }
}
