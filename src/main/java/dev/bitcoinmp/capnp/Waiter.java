package dev.bitcoinmp.capnp;

import java.util.ArrayDeque;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * One per thread: while the thread waits for an answer, tasks posted to it (calls back into objects of
 * this thread) run on it. A thread that only serves calls is a waiter that waits for nothing.
 */
public final class Waiter {

    private static final ThreadLocal<Waiter> CURRENT = ThreadLocal.withInitial(Waiter::new);
    /** Spins before parking (off by default: on two cores a spinning waiter takes the CPU its answer needs). */
    private static final int SPIN = Integer.getInteger("bitcoinmp.waiter.spin", 0);

    private final Thread owner = Thread.currentThread();
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private int depth;           // nested waits in progress; tasks are accepted while > 0
    private volatile boolean signalled;

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
        wake();
        return true;
    }

    /** How many posted tasks have not started yet. */
    public synchronized int queued() {
        return tasks.size();
    }

    /** Wakes the owner so that it checks its condition again. */
    public void wake() {
        signalled = true;
        LockSupport.unpark(owner);
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
        try {
            int spins = 0;
            while (true) {
                Runnable task;
                synchronized (this) { task = tasks.poll(); }
                if (task != null) {
                    task.run();
                    spins = 0;
                    continue;
                }
                if (call != null ? call.isDone() : condition.getAsBoolean()) return;
                if (spins < SPIN) {
                    spins++;
                    Thread.onSpinWait();
                    continue;
                }
                signalled = false;
                synchronized (this) { if (!tasks.isEmpty()) continue; }
                if (call != null ? call.isDone() : condition.getAsBoolean()) return;
                if (!signalled) LockSupport.park(this);
                // An interrupt must not turn this loop into a busy one; it is restored on the way out.
                if (Thread.interrupted()) interrupted = true;
            }
        } finally {
            if (interrupted) owner.interrupt();
            leave();
        }
    }
}
