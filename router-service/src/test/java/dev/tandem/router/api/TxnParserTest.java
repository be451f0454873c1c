package dev.tandem.router.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    @Test
    void theWholeBodyIsCheckedNotOnlyTheOps() {
        String unknown = rejected("{\"ops\": [{\"op\": \"delete\", \"key\": \"a\"}], \"atomic\": false}");
        assertTrue(unknown.contains("unknown field 'atomic'"), unknown);
        String trailing = rejected("{\"ops\": [{\"op\": \"delete\", \"key\": \"a\"}]} {\"ops\": []}");
        assertTrue(trailing.contains("unexpected data after the JSON object"), trailing);
        assertTrue(rejected("{\"ops\": [{\"op\": \"delete\", \"key\": \"a\"}]} x").contains("not valid JSON"));
    }

    @Test
    void aNullConditionIsRefusedNotTreatedAsUnconditional() {
        String m = rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"a\", \"value\": \"x\", \"condition\": null}]}");
        assertTrue(m.contains("ops[0].condition is null"), m);
    }

    @Test
    void loneSurrogatesInKeysAndValuesAreRefusedNotStoredAsQuestionMarks() {
        RouterException key = assertThrows(RouterException.class, () -> parse("{\"ops\": [{\"op\": \"put\", \"key\": \"\\ud800\", \"value\": \"x\"}]}"));
        assertEquals(0, key.opIndex());
        assertTrue(key.getMessage().contains("lone surrogate"), key.getMessage());
        assertTrue(rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"k\", \"value\": \"a\\udc00\"}]}").contains("ops[0].value is not valid Unicode"));
        assertEquals("😀", parse("{\"ops\": [{\"op\": \"put\", \"key\": \"\\ud83d\\ude00\", \"value\": \"\\ud83d\\ude00\"}]}")
                .get(0).getPut().getValue().toStringUtf8());
    }

    @Test
    void anUnparseableContentTypeIsRefused() {
        for (String bad : new String[] {"garbage", "text/", "a b", "/"}) {
            String m = rejected("{\"ops\": [{\"op\": \"put\", \"key\": \"k\", \"value\": \"x\", \"contentType\": \"" + bad + "\"}]}");
            assertTrue(m.startsWith("ops[0].contentType must be a media type"), m);
        }
    }

    @Test
    void messagesSayThingsOnceAndLeakNoJacksonInternals() {
        assertEquals("ops[0] needs 'key'", rejected("{\"ops\": [{\"op\": \"delete\"}]}"));
        for (String broken : new String[] {"{\"ops\": [", "{\"ops\": [{\"op\": \"put\",\n \"key\": }]}", "{\"ops\": [{\"op\": \"put\"\n", "{not json"}) {
            String m = rejected(broken);
            assertTrue(m.startsWith("the body is not valid JSON: "), m);
            assertTrue(m.matches("(?s).*\\(line \\d+, column \\d+\\)$"), m);
            assertFalse(m.contains("Source") || m.contains("StreamReadFeature") || m.contains("REDACTED") || m.contains("\n"), m);
        }
    }
}
