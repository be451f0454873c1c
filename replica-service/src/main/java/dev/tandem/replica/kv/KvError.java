package dev.tandem.replica.kv;

import dev.tandem.proto.Error;
import dev.tandem.proto.ErrorCode;

/** An expected failure of a client request: a code from the closed set, a reason, the op it concerns. */
public record KvError(ErrorCode code, String message, int opIndex) {

    public Error toProto() {
        return Error.newBuilder().setCode(code).setMessage(message).setOpIndex(opIndex).build();
    }
}
