package dev.tandem.replica.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CallerDeadlineInterceptorTest {

    @Test
    void readsEveryGrpcTimeoutUnit() {
        assertEquals(TimeUnit.HOURS.toNanos(2), CallerDeadlineInterceptor.parseTimeoutNanos("2H"));
        assertEquals(TimeUnit.MINUTES.toNanos(3), CallerDeadlineInterceptor.parseTimeoutNanos("3M"));
        assertEquals(TimeUnit.SECONDS.toNanos(10), CallerDeadlineInterceptor.parseTimeoutNanos("10S"));
        assertEquals(TimeUnit.MILLISECONDS.toNanos(149), CallerDeadlineInterceptor.parseTimeoutNanos("149m"));
        assertEquals(TimeUnit.MICROSECONDS.toNanos(99999999), CallerDeadlineInterceptor.parseTimeoutNanos("99999999u"));
        assertEquals(7, CallerDeadlineInterceptor.parseTimeoutNanos("7n"));
    }

    @Test
    void treatsAMalformedTimeoutAsNone() {
        for (String bad : new String[] {null, "", "m", "10", "10x", "-5m", "123456789m", "1.5S"}) {
            assertEquals(-1, CallerDeadlineInterceptor.parseTimeoutNanos(bad), String.valueOf(bad));
        }
    }
}
