package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Waiter;
import java.util.concurrent.CountDownLatch;

/**
 * A server thread made by {@code ThreadMap.makeThread} (or for a pool): runs the calls sent to it one at a
 * time, in order, until it is released or its connection ends.
 */
final class WorkerThread implements IpcThread, ThreadTarget {

    private final MpConnection connection;
    private final Thread thread;
    private final CountDownLatch started = new CountDownLatch(1);
    private volatile Waiter waiter;
    private volatile boolean stopped;
    private volatile String name;
    private final String base;

    WorkerThread(MpConnection connection, String clientName) {
        this.connection = connection;
        this.thread = new Thread(this::run);
        thread.setDaemon(true);
        this.base = connection.exeName() + "-" + MpConnection.pid() + "/mp-worker-" + thread.threadId();
        this.name = clientName == null ? base : base + " (from " + clientName + ")";
        thread.setName(name);
        thread.start();
        boolean interrupted = false;
        while (true) {
            try {
                started.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private void run() {
        waiter = Waiter.current();
        // The condition is first checked inside await, once posting to this waiter is possible.
        waiter.await(() -> {
            started.countDown();
            return stopped;
        });
    }

    @Override
    public MpConnection connection() {
        return connection;
    }

    @Override
    public void execute(Runnable task) {
        if (stopped || !waiter.post(task)) {
            throw new RpcException(RpcException.Type.DISCONNECTED, "thread " + name + " has ended");
        }
    }

    int queued() {
        return waiter.queued();
    }

    @Override
    public String getName() {
        return name;
    }

    /** Names this thread for the client it serves from now on (a spare made before any client asked). */
    void serveFor(String clientName) {
        name = base + " (from " + clientName + ")";
        thread.setName(name);
    }

    boolean isCurrent() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void close() {
        stopped = true;
        Waiter w = waiter;
        if (w != null) w.wake();
    }
}
