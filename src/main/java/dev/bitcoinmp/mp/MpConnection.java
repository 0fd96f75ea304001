package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.OutgoingCall;
import dev.bitcoinmp.capnp.ReaderLimits;
import dev.bitcoinmp.capnp.RpcConnection;
import dev.bitcoinmp.capnp.Stream;
import dev.bitcoinmp.capnp.StructOut;
import dev.bitcoinmp.capnp.Waiter;
import java.lang.reflect.Method;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A libmultiprocess connection: an RPC connection plus the thread conventions on top of it. On the client
 * side each calling Java thread gets its own server thread (made once, pipelined) and is the callback thread
 * for calls back into it; on the server side calls run on the threads their contexts name.
 */
public final class MpConnection implements AutoCloseable {

    private final RpcConnection rpc;
    private final String exeName;
    private final ThreadMapServer threadMapServer = new ThreadMapServer();
    // The peer's ThreadMap: the proxy, or until it is first needed the capability it comes from (guarded by this).
    private ThreadMap peerThreadMap;
    private Capability peerThreadMapCap;
    private final Map<Thread, ClientThread> clientThreads = new ConcurrentHashMap<>();
    private final List<WorkerThread> pool = new ArrayList<>();
    private WorkerThread spare;   // made by prestartThread for the first makeThread; guarded by pool
    private final Deque<Runnable> cleanups = new ArrayDeque<>();

    private MpConnection(Stream stream, Object bootstrap, Class<?> bootstrapType, String name, Options options) {
        this.exeName = options.exeName;
        ServerDispatch server = bootstrap == null ? null : new ServerDispatch(bootstrap, InterfaceSchema.of(bootstrapType));
        this.rpc = new RpcConnection(stream, server, name, options.limits, options.debug);
        rpc.attach(this);
        rpc.onDisconnect(this::disconnected);
    }

    /** Settings of a connection. */
    public record Options(String exeName, ReaderLimits limits, Consumer<String> debug) {
        public static Options defaults() {
            return new Options(System.getProperty("bitcoinmp.exe", "java"), ReaderLimits.DEFAULT, null);
        }
    }

    /**
     * Connects as the client to the {@code initType} object served on {@code stream}. Bootstrap and
     * {@code construct} (when the interface has it) are pipelined: nothing waits here. Closing the returned
     * proxy closes the connection.
     */
    public static <T> T connect(Stream stream, Class<T> initType, String name, Options options) {
        MpConnection connection = new MpConnection(stream, null, null, name, options);
        connection.rpc.start();
        Capability bootstrap = connection.rpc.bootstrap();
        T init = Proxies.newProxy(initType, bootstrap, connection, connection::close);
        Method construct = constructMethod(initType);
        if (construct != null) {
            try {
                connection.setPeerThreadMap((ThreadMap) construct.invoke(init, connection.threadMapServer));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("construct failed", e.getCause() == null ? e : e.getCause());
            }
        }
        return init;
    }

    public static <T> T connect(Stream stream, Class<T> initType, String name) {
        return connect(stream, initType, name, Options.defaults());
    }

    /** Serves {@code init} as the bootstrap object on {@code stream}; returns at once. */
    public static <T> MpConnection serve(Stream stream, T init, Class<T> initType, String name, Options options) {
        MpConnection connection = new MpConnection(stream, init, initType, name, options);
        connection.rpc.start();
        return connection;
    }

    public static <T> MpConnection serve(Stream stream, T init, Class<T> initType, String name) {
        return serve(stream, init, initType, name, Options.defaults());
    }

    /** The connection a proxy of this layer talks over. */
    public static MpConnection of(Object proxy) {
        if (java.lang.reflect.Proxy.isProxyClass(proxy.getClass())
                && java.lang.reflect.Proxy.getInvocationHandler(proxy) instanceof ProxyHandler handler) {
            return handler.connection();
        }
        throw new IllegalArgumentException(proxy + " is not a proxy of this layer");
    }

    private static Method constructMethod(Class<?> type) {
        for (Method m : type.getMethods()) {
            if (m.getName().equals("construct") && m.getParameterCount() == 1
                    && m.getParameterTypes()[0] == ThreadMap.class && m.getReturnType() == ThreadMap.class) {
                return m;
            }
        }
        return null;
    }

    private static volatile long pid;

    /**
     * This process's ID, for thread names as libmultiprocess makes them ({@code <exe>-<pid>/<thread>}). The
     * launchers pass it ({@code -Dbitcoinmp.pid=$$}: exec keeps the shell's pid), which spares a spawned child
     * ProcessHandle's initialization (~0.5 ms of its start); otherwise ProcessHandle gives it.
     */
    static long pid() {
        long known = pid;
        if (known <= 0) pid = known = findPid();
        return known;
    }

    private static long findPid() {
        try {
            long passed = Long.parseLong(System.getProperty("bitcoinmp.pid", ""));
            if (passed > 0) return passed;
        } catch (NumberFormatException e) {
            // not passed (a JVM not started by our launchers): the JDK knows
        }
        return ProcessHandle.current().pid();
    }

    public RpcConnection rpc() {
        return rpc;
    }

    String exeName() {
        return exeName;
    }

    /** Registers {@code cleanup} to run when the connection ends; cleanups run newest first. */
    public void addCleanup(Runnable cleanup) {
        boolean runNow;
        synchronized (cleanups) {
            runNow = !rpc.isOpen() && cleanups.isEmpty() && disconnectedDone;
            if (!runNow) cleanups.push(cleanup);
        }
        if (runNow) cleanup.run();
    }

    /** Waits until the connection has ended; false on timeout. */
    public boolean awaitEnd(long timeout, TimeUnit unit) throws InterruptedException {
        return rpc.awaitEnd(timeout, unit);
    }

    @Override
    public void close() {
        for (ClientThread t : clientThreads.values()) t.close();
        clientThreads.clear();
        dropPeerThreadMap();
        rpc.close();
    }

    private volatile boolean disconnectedDone;

    private void disconnected() {
        for (ClientThread t : clientThreads.values()) t.close();
        clientThreads.clear();
        synchronized (pool) {
            for (WorkerThread worker : pool) worker.close();
            pool.clear();
            if (spare != null) spare.close();
            spare = null;
        }
        while (true) {
            Runnable cleanup;
            synchronized (cleanups) {
                cleanup = cleanups.poll();
                if (cleanup == null) {
                    disconnectedDone = true;
                    return;
                }
            }
            try {
                cleanup.run();
            } catch (RuntimeException e) {
                // One failed cleanup must not keep the others from running.
            }
        }
    }

    void setPeerThreadMap(ThreadMap theirs) {
        dropPeerThreadMap();
        synchronized (this) {
            peerThreadMap = theirs;
        }
    }

    /** Keeps the peer's ThreadMap as the capability {@code theirs} (taken over), made a proxy when first needed. */
    void setPeerThreadMap(Capability theirs) {
        dropPeerThreadMap();
        synchronized (this) {
            peerThreadMapCap = theirs;
        }
    }

    private synchronized ThreadMap peerThreadMap() {
        if (peerThreadMap == null && peerThreadMapCap != null) {
            peerThreadMap = (ThreadMap) Proxies.objectOf(peerThreadMapCap, ThreadMap.class, this);
            peerThreadMapCap = null;
        }
        return peerThreadMap;
    }

    private void dropPeerThreadMap() {
        ThreadMap proxy;
        Capability cap;
        synchronized (this) {
            proxy = peerThreadMap;
            cap = peerThreadMapCap;
            peerThreadMap = null;
            peerThreadMapCap = null;
        }
        if (proxy != null) proxy.close();
        if (cap != null) cap.close();
    }

    ThreadMap threadMapServer() {
        return threadMapServer;
    }

    /** The pool thread with the fewest queued calls, or null without a pool. */
    ThreadTarget poolThread() {
        synchronized (pool) {
            WorkerThread best = null;
            for (WorkerThread worker : pool) if (best == null || worker.queued() < best.queued()) best = worker;
            return best;
        }
    }

    /** Writes the {@code Context} of an outgoing call made by the current thread. */
    void writeContext(OutgoingCall call, StructOut params, int pointer) {
        StructOut context = params.initStruct(pointer, 0, 2);
        CallContext serving = CallContext.current();
        if (serving != null && serving.connection() == this && serving.callbackThread() != null) {
            // A call back to the client we are serving: it runs on the client thread that waits for us.
            context.setCapIndex(0, call.addCap(serving.callbackThread()));
            return;
        }
        ClientThread thread = clientThread();
        if (thread.serverThread != null) context.setCapIndex(0, call.addCap(thread.serverThread));
        context.setCapIndex(1, call.addCap(thread.callback));
    }

    private ClientThread clientThread() {
        Thread current = Thread.currentThread();
        ClientThread existing = clientThreads.get(current);
        if (existing != null) return existing;
        // Threads that ended no longer need their server threads.
        clientThreads.entrySet().removeIf(e -> {
            if (e.getKey().isAlive()) return false;
            e.getValue().close();
            return true;
        });
        String name = exeName + "-" + pid() + "/" + current.getName() + "-" + current.threadId();
        ClientThread created = new ClientThread(name);
        clientThreads.put(current, created);
        return created;
    }

    /** One client thread's pair: the server thread it calls on, and itself as a callback thread. */
    private final class ClientThread {
        final IpcThread serverProxy;
        final Capability serverThread;
        final Capability callback;

        ClientThread(String name) {
            ThreadMap theirs = peerThreadMap();
            serverProxy = theirs == null ? null : theirs.makeThread(name);
            serverThread = serverProxy == null ? null : Proxies.capabilityOf(serverProxy, IpcThread.class);
            CallbackThread self = new CallbackThread(MpConnection.this, Waiter.current(), name);
            callback = Capability.local(new ServerDispatch(self, InterfaceSchema.of(IpcThread.class)));
        }

        void close() {
            if (serverThread != null) serverThread.close();
            if (serverProxy != null) serverProxy.close();
        }
    }

    /**
     * Starts, ahead of time, the server thread that the peer's first {@code ThreadMap.makeThread} will get (it is
     * named for the peer's thread then). For a process whose one connection is certain to ask for one, as a
     * spawned child's is: starting a thread takes a fresh JVM about half a millisecond, which the first call
     * would otherwise wait for. Closed with the connection if never asked for.
     */
    public void prestartThread() {
        WorkerThread made = new WorkerThread(this, null);
        synchronized (pool) {
            if (spare == null && rpc.isOpen()) {
                spare = made;
                return;
            }
        }
        made.close();
    }

    /** The server's ThreadMap: threads for this connection's client. */
    private final class ThreadMapServer implements ThreadMap {
        @Override
        public IpcThread makeThread(String name) {
            WorkerThread ready;
            synchronized (pool) {
                ready = spare;
                spare = null;
            }
            if (ready == null) return new WorkerThread(MpConnection.this, name);
            ready.serveFor(name);
            return ready;
        }

        @Override
        public void makePool(int count) {
            if (count < 0 || count > 1024) throw new IllegalArgumentException("pool size " + Integer.toUnsignedString(count) + " is out of range 0..1024");
            synchronized (pool) {
                while (pool.size() < count) pool.add(new WorkerThread(MpConnection.this, "pool"));
            }
        }

        @Override
        public void close() {}
    }
}
