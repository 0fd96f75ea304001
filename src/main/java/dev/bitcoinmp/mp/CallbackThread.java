package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Waiter;

/**
 * A client thread as the server sees it ({@code context.callbackThread}): calls back into the client run on
 * it while it waits for its own call, so a chain client -> server -> client stays on one client thread.
 */
final class CallbackThread implements IpcThread, ThreadTarget {

    private final MpConnection connection;
    private final Waiter waiter;
    private final String name;

    CallbackThread(MpConnection connection, Waiter waiter, String name) {
        this.connection = connection;
        this.waiter = waiter;
        this.name = name;
    }

    @Override
    public MpConnection connection() {
        return connection;
    }

    @Override
    public void execute(Runnable task) {
        // The thread is not waiting (the callback outlived the call that allowed it): run it anyway.
        if (!waiter.post(task)) {
            Thread.ofPlatform().daemon().name(name + " (late callback)").start(task);
        }
    }

    @Override
    public String getName() {
        return name;
    }

    boolean isAlive() {
        return waiter.owner().isAlive();
    }

    @Override
    public void close() {}
}
