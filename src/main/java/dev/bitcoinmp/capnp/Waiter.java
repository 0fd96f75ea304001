package dev.bitcoinmp.capnp;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * One per thread: while the thread waits for an answer, tasks posted to it (calls back into objects of
 * this thread) run on it. A thread that only serves calls is a waiter that waits for nothing.
 */
public final class Waiter {

    private static final ThreadLocal<Waiter> CURRENT = ThreadLocal.withInitial(Waiter::new);

    /*
     * A thread waiting for an answer that usually comes quickly spins for it a little before it parks: an answer
     * that finds its caller parked must wake it, and waking a thread costs more than the round trip of a small
     * call (tens of microseconds on a virtual machine, whose idle CPUs are halted). Each thread keeps an average
     * of how long its answers take and spins only when that is short, for up to 1.5 times it, never longer than
     * the most below; and no more threads of the process spin at once than there are CPUs but one, so that the
     * threads that produce the answer (ours, the peer's) are never kept from a CPU by spinners. Threads that wait
     * for calls to serve never spin: a call may come at any time; nor threads whose connection has other calls in
     * flight (their answers keep the CPUs busy). -Dbitcoinmp.waiter.spinMicros=0 turns it off.
     */
    private static final long SPIN_MAX_NANOS = Math.max(0, Long.getLong("bitcoinmp.waiter.spinMicros", 200)) * 1000;
    private static final int MAX_SPINNERS = Runtime.getRuntime().availableProcessors() - 1;
    private static final AtomicInteger spinners = new AtomicInteger();

    private final Thread owner = Thread.currentThread();
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private int depth;           // nested waits in progress; tasks are accepted while > 0
    private volatile boolean signalled;
    private volatile boolean spinning;   // the owner spins for its answer (see spin)
    /** Moving average of this thread's waits for answers, in nanoseconds (owner thread only). */
    private long averageWait = SPIN_MAX_NANOS;

    private Waiter() {}

    /** The waiter of the calling thread. */
    public static Waiter current() {
        return CURRENT.get();
    }

    public Thread owner() {
        return owner;
    }

    /**
     * Runs {@code task} on the owner thread if it is waiting now; false (task not taken) otherwise.
     * Tasks run in the order they were posted.
     */
    public boolean post(Runnable task) {
        synchronized (this) {
            if (depth == 0) return false;
            tasks.add(task);
        }
        wakeNow();
        return true;
    }

    /** How many posted tasks have not started yet. */
    public synchronized int queued() {
        return tasks.size();
    }

    /**
     * Wakes the owner so that it checks its condition again. Called by a connection's reader (an answer came for
     * the owner), the unpark may be deferred a little (see below).
     */
    public void wake() {
        signalled = true;
        // A spinning owner sees signalled: no unpark (it would leave a permit that cuts its next park short). It
        // sets spinning false before it checks again whether to park, we set signalled before we read spinning.
        if (spinning) return;
        Deferred deferred = DEFERRED.get();
        if (deferred != null && deferred.active && deferred.count < MAX_DEFERRED && owner != Thread.currentThread()) {
            deferred.owners[deferred.count++] = owner;
            return;
        }
        LockSupport.unpark(owner);
    }

    /** As {@link #wake()}, never deferred: for a task posted to the owner (a call to serve, a callback). */
    private void wakeNow() {
        signalled = true;
        if (!spinning) LockSupport.unpark(owner);
    }

    /*
     * A connection's reader that reads several answers at once defers the unparks of their callers until it is
     * about to read again, when all of them are handed out: callers woken one by one while it still hands out the
     * rest take the CPU from it (measured: 16 callers of 5 B calls, ~70k calls/s with the unparks at once, ~90-100k
     * with them deferred). The wakes of the last message read are not deferred, nor are those of tasks posted to a
     * thread (calls to serve: deferring those measured slower sequential calls and no gain), and a spinning waiter
     * sees its wake at once (signalled is set, no unpark is needed). A deferred unpark never waits past the reader's
     * next read, nor past code that could block the reader (flushDeferred before it: calls run on the reader, an
     * object's close() when its last reference goes, the disconnect).
     */
    private static final int MAX_DEFERRED = 64;
    private static final ThreadLocal<Deferred> DEFERRED = new ThreadLocal<>();

    private static final class Deferred {
        final Thread[] owners = new Thread[MAX_DEFERRED];
        int count;
        boolean active;   // the message being handled is not the last one read: more follow at once
    }

    /**
     * Whether the calling thread (a reader that defers its wakes) defers those of the message it handles next:
     * yes when more messages follow it in what was read, no for the last (its wakes are unparked at once, as
     * there is nothing left to hand out first).
     */
    static void deferWhile(boolean moreFollow) {
        Deferred deferred = DEFERRED.get();
        if (deferred != null) deferred.active = moreFollow;
    }

    /** From now on the calling thread (a connection's reader) defers its unparks until {@link #flushDeferred}. */
    static void deferWakes() {
        DEFERRED.set(new Deferred());
    }

    /** Unparks the threads the calling thread's deferred wakes are for; nothing if it defers none. */
    public static void flushDeferred() {
        Deferred deferred = DEFERRED.get();
        if (deferred == null) return;
        for (int i = 0; i < deferred.count; i++) {
            LockSupport.unpark(deferred.owners[i]);
            deferred.owners[i] = null;
        }
        deferred.count = 0;
    }

    /** Unparks what the calling thread deferred and stops deferring. */
    static void endDeferral() {
        flushDeferred();
        DEFERRED.remove();
    }

    /**
     * Starts taking posted tasks, before a call is sent, so that a callback the call causes is never
     * missed; {@link #leave()} ends it. Pairs nest.
     */
    public void enter() {
        if (Thread.currentThread() != owner) throw new IllegalStateException("enter on another thread's waiter");
        synchronized (this) { depth++; }
    }

    /** Ends an {@link #enter()}; tasks still queued when the last one ends run here before it returns. */
    public void leave() {
        Runnable[] leftover;
        synchronized (this) {
            depth--;
            if (depth > 0 || tasks.isEmpty()) return;
            leftover = tasks.toArray(Runnable[]::new);
            tasks.clear();
        }
        for (Runnable task : leftover) task.run();
    }

    /**
     * Runs posted tasks until {@code done} is true. Only the owner thread may call it. Tasks that were
     * posted before {@code done} became true still run before it returns.
     */
    public void await(BooleanSupplier done) {
        awaitUntil(done, null);
    }

    /** Runs posted tasks until {@code call} is done (as {@link #await(BooleanSupplier)}, without a lambda per call). */
    void await(PendingCall call) {
        awaitUntil(null, call);
    }

    private void awaitUntil(BooleanSupplier condition, PendingCall call) {
        enter();
        boolean interrupted = false;
        long started = call != null ? System.nanoTime() : 0;
        boolean spun = call == null;
        try {
            while (true) {
                Runnable task;
                synchronized (this) { task = tasks.poll(); }
                if (task != null) {
                    task.run();
                    continue;
                }
                if (call != null ? call.isDone() : condition.getAsBoolean()) return;
                if (!spun) {
                    spun = true;
                    if (spin(call)) continue;
                }
                signalled = false;
                synchronized (this) { if (!tasks.isEmpty()) continue; }
                if (call != null ? call.isDone() : condition.getAsBoolean()) return;
                if (!signalled) LockSupport.park(this);
                // An interrupt must not turn this loop into a busy one; it is restored on the way out.
                if (Thread.interrupted()) interrupted = true;
            }
        } finally {
            if (call != null) averageWait += (System.nanoTime() - started - averageWait) / 4;
            if (interrupted) owner.interrupt();
            leave();
        }
    }

    /**
     * Spins until {@code call} is done or a task is posted, if this thread's answers usually come quickly and a
     * spinner's place is free (see above); true if either happened, false if it did not spin or gave up.
     */
    private boolean spin(PendingCall call) {
        long budget = averageWait + averageWait / 2;
        if (budget > SPIN_MAX_NANOS || MAX_SPINNERS < 1) return false;
        // Calls of other threads in flight on the connection: CPUs are busy with answers, and theirs come first.
        if (call.connection != null && call.connection.questionsInFlight() > 1) return false;
        int n;
        do {
            n = spinners.get();
            if (n >= MAX_SPINNERS) return false;
        } while (!spinners.compareAndSet(n, n + 1));
        try {
            signalled = false;   // the loop around checks again for whatever set it before
            spinning = true;
            long start = System.nanoTime();
            while (!call.isDone() && !signalled) {
                if (System.nanoTime() - start > budget) return false;
                Thread.onSpinWait();
            }
            return true;
        } finally {
            spinning = false;
            spinners.decrementAndGet();
        }
    }
}
