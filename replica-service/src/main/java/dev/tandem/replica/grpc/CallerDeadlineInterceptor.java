package dev.tandem.replica.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.TimeUnit;

/**
 * Knows when a caller stops listening, and never answers after that.
 *
 * <p>Why: the unified Vert.x gRPC server (gRPC on the HTTP port) does not pass the caller's
 * {@code grpc-timeout} on as a {@link Context} deadline, and an answer written on a stream the
 * caller has already reset (its deadline passed) makes it tear down the whole HTTP/2 connection
 * (GOAWAY PROTOCOL_ERROR "Request stream N is not correct for server connection"), failing every
 * other call multiplexed on it: a router's reads, a controller's probes (AbandonedCallsIT).
 *
 * <p>So the header is read here: waits in the services are capped by {@link #budgetMs}, and an
 * answer that would leave after the caller's deadline is dropped. The deadline is taken a little
 * early (a fifth of the timeout, at least 5 ms and at most 1 s) because the caller's clock
 * started when it sent the request, before this replica received it.
 */
@ApplicationScoped
@GlobalInterceptor
public class CallerDeadlineInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> GRPC_TIMEOUT = Metadata.Key.of("grpc-timeout", Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<Long> ANSWER_BY_NANOS = Context.key("tandem-answer-by-nanos");

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        long timeoutNanos = parseTimeoutNanos(headers.get(GRPC_TIMEOUT));
        if (timeoutNanos < 0) {
            return next.startCall(call, headers);
        }
        long answerBy = System.nanoTime() + answerWithinNanos(timeoutNanos);
        ServerCall<Q, R> guarded = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void sendHeaders(Metadata h) {
                if (!late(answerBy)) {
                    super.sendHeaders(h);
                }
            }

            @Override
            public void sendMessage(R message) {
                if (!late(answerBy)) {
                    super.sendMessage(message);
                }
            }

            @Override
            public void close(Status status, Metadata trailers) {
                if (!late(answerBy)) {
                    super.close(status, trailers);
                }
            }
        };
        return Contexts.interceptCall(Context.current().withValue(ANSWER_BY_NANOS, answerBy), guarded, headers, next);
    }

    /** Of a caller's timeout, the part an answer may take here: the rest is kept for the trip back. */
    static long answerWithinNanos(long timeoutNanos) {
        return timeoutNanos - Math.min(TimeUnit.SECONDS.toNanos(1), Math.max(TimeUnit.MILLISECONDS.toNanos(5), timeoutNanos / 5));
    }

    private static boolean late(long answerByNanos) {
        return System.nanoTime() - answerByNanos > 0;
    }

    /** Ms this call may still wait before answering, {@code Long.MAX_VALUE} when the caller set no deadline. */
    static long budgetMs() {
        Long answerBy = ANSWER_BY_NANOS.get();
        return answerBy == null ? Long.MAX_VALUE : Math.max(0, TimeUnit.NANOSECONDS.toMillis(answerBy - System.nanoTime()));
    }

    /** {@code grpc-timeout}: at most 8 digits and a unit (H M S m u n); -1 when absent or malformed. */
    static long parseTimeoutNanos(String value) {
        if (value == null || value.length() < 2 || value.length() > 9) {
            return -1;
        }
        long amount;
        try {
            amount = Long.parseLong(value.substring(0, value.length() - 1));
        } catch (NumberFormatException e) {
            return -1;
        }
        if (amount < 0) {
            return -1;
        }
        return switch (value.charAt(value.length() - 1)) {
            case 'H' -> TimeUnit.HOURS.toNanos(amount);
            case 'M' -> TimeUnit.MINUTES.toNanos(amount);
            case 'S' -> TimeUnit.SECONDS.toNanos(amount);
            case 'm' -> TimeUnit.MILLISECONDS.toNanos(amount);
            case 'u' -> TimeUnit.MICROSECONDS.toNanos(amount);
            case 'n' -> amount;
            default -> -1;
        };
    }
}
