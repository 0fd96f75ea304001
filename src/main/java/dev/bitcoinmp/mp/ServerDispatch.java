package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.IncomingCall;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.Server;
import dev.bitcoinmp.capnp.StructIn;
import dev.bitcoinmp.capnp.StructOut;

/**
 * The server side of one exported object: finds the method a call names, runs it on the thread its context
 * names (or on the connection's reader when it takes no context), and answers with its result or exception.
 */
final class ServerDispatch implements Server {

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
            run(call, m, connection, null);
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
        Capability callback = callbackCap == null ? null : callbackCap.dup();
        try {
            target.execute(() -> run(call, m, connection, callback));
        } catch (RuntimeException e) {
            if (callback != null) callback.close();
            call.returnException(e);
        }
    }

    /** libmultiprocess' first call: keep the client's thread map, hand out ours. */
    private void construct(IncomingCall call, MethodSchema m, MpConnection connection) {
        try {
            Object theirs = m.params.get(0).read(call.params(), new IncomingCaps(call, connection));
            connection.setPeerThreadMap((ThreadMap) theirs);
            StructOut results = call.initResults(m.resultWords, m.resultPointers, 0);
            m.result.write(results, connection.threadMapServer(), new IncomingCaps(call, connection));
            call.returnResults();
        } catch (RuntimeException e) {
            call.returnException(e);
        }
    }

    private void run(IncomingCall call, MethodSchema m, MpConnection connection, Capability callback) {
        Thread worker = Thread.currentThread();
        CallContext previous = CallContext.enter(new CallContext(connection, callback));
        Codec.Caps caps = new IncomingCaps(call, connection);
        Object[] args = new Object[m.params.size()];
        try {
            if (call.isCanceled()) throw new RpcException(RpcException.Type.FAILED, "call canceled");
            StructIn params = call.params();
            for (int i = 0; i < args.length; i++) args[i] = m.params.get(i).read(params, caps);
            Object result;
            CancelHook hook = new CancelHook(worker);
            call.onCancel(hook);
            try {
                result = m.invoker.invoke(impl, args);
            } finally {
                hook.done();
            }
            if (m.destroy) destroyed = true;
            StructOut results = call.initResults(m.resultWords, m.resultPointers, m.result == null ? 0 : m.result.sizeHint(result));
            if (m.result != null) m.result.write(results, result, caps);
            call.returnResults();
        } catch (Throwable e) {
            if (Boolean.getBoolean("bitcoinmp.debug")) e.printStackTrace();
            call.returnException(e);
            if (e instanceof Error error && !(e instanceof StackOverflowError)) throw error;
        } finally {
            CallContext.leave(previous);
            if (callback != null) callback.close();
        }
    }

    /** Interrupts the thread running a call that its caller gave up on; harmless once the call is over. */
    private static final class CancelHook implements Runnable {
        private final Thread worker;
        private boolean done;

        CancelHook(Thread worker) {
            this.worker = worker;
        }

        @Override
        public synchronized void run() {
            if (!done) worker.interrupt();
        }

        synchronized void done() {
            done = true;
            Thread.interrupted();  // an interrupt aimed at this call must not hit the next one
        }
    }

    @Override
    public void released(boolean owned) {
        // An object the peer owned (it got it as a result) goes away with its last reference.
        if (owned && !destroyed && impl instanceof AutoCloseable closeable) {
            destroyed = true;
            try {
                closeable.close();
            } catch (Exception e) {
                // The peer is gone; there is nobody to tell.
            }
        }
    }

    private record IncomingCaps(IncomingCall call, MpConnection connection) implements Codec.Caps {
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
}
