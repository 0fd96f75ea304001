package dev.bitcoinmp.capnp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A reader's deferred wakes: held while more of what it read is to be handed out, never lost. */
class WaiterTest {

    /** A thread parked in {@link Waiter#await} until {@code ready}; its waiter, and a latch counted down after. */
    private record Parked(Thread thread, Waiter waiter, CountDownLatch proceeded) {}

    private static Parked parkUntil(AtomicBoolean ready) throws InterruptedException {
        AtomicReference<Waiter> waiter = new AtomicReference<>();
        CountDownLatch proceeded = new CountDownLatch(1);
        Thread thread = new Thread(() -> {
            waiter.set(Waiter.current());
            Waiter.current().await(ready::get);
            proceeded.countDown();
        });
        thread.setDaemon(true);
        thread.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (thread.getState() != Thread.State.WAITING && System.nanoTime() < deadline) Thread.onSpinWait();
        assertEquals(Thread.State.WAITING, thread.getState(), "the waiting thread parked");
        return new Parked(thread, waiter.get(), proceeded);
    }

    @Test
    void deferredWakeIsUnparkedAtTheFlush() throws Exception {
        AtomicBoolean ready = new AtomicBoolean();
        Parked parked = parkUntil(ready);
        Waiter.deferWakes();
        try {
            Waiter.deferWhile(true);   // more messages follow the one being handled
            ready.set(true);
            parked.waiter().wake();
            assertFalse(parked.proceeded().await(200, TimeUnit.MILLISECONDS), "the unpark waits for the flush");
            Waiter.flushDeferred();
            assertTrue(parked.proceeded().await(5, TimeUnit.SECONDS), "unparked by the flush");
        } finally {
            Waiter.endDeferral();
        }
    }

    @Test
    void lastMessageAndEndOfDeferralWakeAtOnce() throws Exception {
        AtomicBoolean first = new AtomicBoolean();
        Parked one = parkUntil(first);
        AtomicBoolean second = new AtomicBoolean();
        Parked two = parkUntil(second);
        Waiter.deferWakes();
        try {
            Waiter.deferWhile(false);   // the last message read: nothing to hand out first
            first.set(true);
            one.waiter().wake();
            assertTrue(one.proceeded().await(5, TimeUnit.SECONDS), "woken at once");
            Waiter.deferWhile(true);
            second.set(true);
            two.waiter().wake();
        } finally {
            Waiter.endDeferral();   // as a reader's shutdown: what it deferred is unparked
        }
        assertTrue(two.proceeded().await(5, TimeUnit.SECONDS), "unparked when deferral ended");
        Waiter.flushDeferred();   // nothing deferred any more: a no-op
    }

    @Test
    void postedTasksAreNeverDeferred() throws Exception {
        AtomicBoolean ready = new AtomicBoolean();
        Parked parked = parkUntil(ready);
        Waiter.deferWakes();
        try {
            Waiter.deferWhile(true);
            CountDownLatch ran = new CountDownLatch(1);
            assertTrue(parked.waiter().post(() -> {
                ran.countDown();
                ready.set(true);
            }));
            assertTrue(ran.await(5, TimeUnit.SECONDS), "a posted task runs without waiting for a flush");
            assertTrue(parked.proceeded().await(5, TimeUnit.SECONDS));
        } finally {
            Waiter.endDeferral();
        }
    }
}
