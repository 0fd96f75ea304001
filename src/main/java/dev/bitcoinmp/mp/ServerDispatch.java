package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.IncomingCall;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Server;
import dev.bitcoinmp.capnp.StructIn;
import dev.bitcoinmp.capnp.StructOut;
import dev.bitcoinmp.capnp.Waiter;

/**
 * The server side of one exported object: finds the method a call names, runs it on the thread its context
 * names (or on the connection's reader when it takes no context), and answers with its result or exception.
 */
final class ServerDispatch implements Server {
    /** -Dbitcoinmp.debug=true: print the stack of every exception a call throws (read once). */
    private static final boolean DEBUG = Boolean.getBoolean("bitcoinmp.debug");

    final Object impl;
    private final InterfaceSchema schema;
    private volatile boolean destroyed;

    ServerDispatch(Object impl, InterfaceSchema schema) {
        this.impl = impl;
        this.schema = schema;
    }

    @Override
    public void dispatch(IncomingCall call) {
        MethodSchema m = schema.method(call.interfaceId(), call.methodId());
        if (m == null) {
            call.returnException(new RpcException(RpcException.Type.UNIMPLEMENTED, "method " + call.methodId()
                    + " of interface 0x" + Long.toHexString(call.interfaceId()) + " is not implemented by "
                    + InterfaceSchema.schemaName(schema.type)));
            return;
        }
        MpConnection connection = call.connection() == null ? null : (MpConnection) call.connection().attachment();
        if (destroyed) {
            call.returnException(new IllegalStateException(
                    InterfaceSchema.schemaName(schema.type) + "." + m.name + " called after destroy"));
            return;
        }
        if (connection != null && m.name.equals("construct") && m.params.size() == 1
                && m.params.get(0) instanceof Codec.InterfaceCodec p && p.type == ThreadMap.class) {
            construct(call, m, connection);
            return;
        }
        if (!m.context || connection == null) {
            new Invocation(call, m, connection, null).run();
            return;
        }
        StructIn context = call.params().getStruct(m.contextPointer);
        Capability threadCap = call.paramCap(context.getCapIndex(0));
        Capability callbackCap = call.paramCap(context.getCapIndex(1));
        ThreadTarget target;
        if (threadCap == null) {
            target = connection.poolThread();
            if (target == null) {
                call.returnException(new RpcException(RpcException.Type.FAILED, "no thread specified and no pool configured"));
                return;
            }
        } else if (threadCap.localServer() instanceof ServerDispatch d && d.impl instanceof ThreadTarget t
                && t.connection() == connection) {
            target = t;
        } else {
            call.returnException(new RpcException(RpcException.Type.FAILED, "invalid thread handle"));
            return;
        }
        try {
            // The callback capability is the call's until it is answered, which is after it last runs here.
            target.execute(new Invocation(call, m, connection, callbackCap));
        } catch (RuntimeException e) {
            call.returnException(e);
        }
    }

    /** libmultiprocess' first call: keep the client's thread map, hand out ours. */
    private void construct(IncomingCall call, MethodSchema m, MpConnection connection) {
        try {
            Codec.Caps caps = new Invocation(call, m, connection, null);
            // Kept as a capability: a proxy is made only if this side ever calls back (a spawned child rarely does).
            connection.setPeerThreadMap(((Codec.InterfaceCodec) m.params.get(0)).readCapability(call.params(), caps));
            StructOut results = call.initResults(m.resultWords, m.resultPointers, m.result.sizeHint(connection.threadMapServer()));
            m.result.write(results, connection.threadMapServer(), caps);
            call.returnResults();
        } catch (RuntimeException e) {
            call.returnException(e);
        }
    }

    /**
     * One call on its way to the implementation, in one object: the task run on the call's thread, the
     * capabilities its parameters and results take and add, that thread's context while it runs, and what
     * interrupts the thread if the caller gives up on the call meanwhile.
     *
     * <p>{@link #run()} is both: run first, by the call's thread, it is the task; run again (by whoever sees
     * the call canceled, see {@link IncomingCall#onCancel}), it interrupts that thread if the call is still
     * running, and does nothing once it is over.
     */
    private final class Invocation extends CallContext implements Runnable, Codec.Caps {
        private final IncomingCall call;
        private final MethodSchema m;
        private final MpConnection connection;
        private final Capability callback;   // the call's (a parameter): valid until it is answered
        private static final int POSTED = 0, RUNNING = 1, OVER = 2;
        private int state = POSTED;           // guarded by this
        private Thread worker;                // guarded by this

        Invocation(IncomingCall call, MethodSchema m, MpConnection connection, Capability callback) {
            this.call = call;
            this.m = m;
            this.connection = connection;
            this.callback = callback;
        }

        @Override
        public void run() {
            // Run by a connection's reader (a call without a context, or a cancel): the threads it woke for what
            // it read before are unparked first, as the application's code may block it.
            Waiter.flushDeferred();
            synchronized (this) {
                if (state != POSTED) {
                    // The cancel action: an interrupt aimed at this call only.
                    if (state == RUNNING) worker.interrupt();
                    return;
                }
                state = RUNNING;
                worker = Thread.currentThread();
            }
            CallContext previous = CallContext.enter(this);
            try {
                if (call.isCanceled()) throw new RpcException(RpcException.Type.FAILED, "call canceled");
                StructIn params = call.params();
                Object arg = null;
                Object[] args = null;
                if (m.oneParam) {
                    arg = m.params.get(0).read(params, this);
                } else {
                    args = new Object[m.params.size()];
                    for (int i = 0; i < args.length; i++) args[i] = m.params.get(i).read(params, this);
                }
                Object result;
                call.onCancel(this);
                try {
                    result = m.oneParam ? m.invoke(impl, arg) : m.invoke(impl, args);
                } finally {
                    over();
                }
                if (m.destroy) destroyed = true;
                StructOut results = call.initResults(m.resultWords, m.resultPointers, m.result == null ? 0 : m.result.sizeHint(result));
                if (m.result != null) m.result.write(results, result, this);
                call.returnResults();
            } catch (Throwable e) {
                if (DEBUG) e.printStackTrace();
                call.returnException(e);
                if (e instanceof Error error && !(e instanceof StackOverflowError)) throw error;
            } finally {
                CallContext.leave(previous);
            }
        }

        /** The implementation returned: a cancel comes too late to interrupt it. */
        private synchronized void over() {
            state = OVER;
            Thread.interrupted();  // an interrupt aimed at this call must not hit the next one
        }

        @Override
        public MpConnection connection() {
            return connection;
        }

        @Override
        Capability callbackThread() {
            return callback;
        }

        @Override
        public int add(Capability cap) {
            return call.addResultCap(cap);
        }

        @Override
        public Capability take(int index) {
            Capability cap = call.paramCap(index);
            return cap == null ? null : cap.dup();
        }
    }

    @Override
    public void released(boolean owned) {
        // An object the peer owned (it got it as a result) goes away with its last reference.
        if (owned && !destroyed && impl instanceof AutoCloseable closeable) {
            destroyed = true;
            Waiter.flushDeferred();   // the application's close() may block a reader (see Invocation.run)
            try {
                closeable.close();
            } catch (Exception e) {
                // The peer is gone; there is nobody to tell.
            }
        }
    }
}
