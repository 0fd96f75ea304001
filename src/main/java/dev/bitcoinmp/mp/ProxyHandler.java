package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.OutgoingCall;
import dev.bitcoinmp.capnp.PendingCall;
import dev.bitcoinmp.capnp.Response;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.StructIn;
import dev.bitcoinmp.capnp.StructOut;
import dev.bitcoinmp.capnp.Waiter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;

/**
 * The client side of one capability: turns each call of the Java interface into a Cap'n Proto call and
 * its answer back into a return value. Closing it destroys the remote object (if the interface has a
 * {@code destroy} method) and releases the capability; calls after that fail at once.
 */
final class ProxyHandler implements InvocationHandler {

    private static final Object[] NO_ARGS = new Object[0];
    /** What a Context adds to a call: its struct (two pointers) and two capability-table entries. */
    private static final int CONTEXT_SIZE = 8 * (2 + 1 + 2 * 2);

    private final InterfaceSchema schema;
    private final Capability cap;
    private final MpConnection connection;
    private final Runnable onClose;
    private volatile boolean closed;

    ProxyHandler(InterfaceSchema schema, Capability cap, MpConnection connection, Runnable onClose) {
        this.schema = schema;
        this.cap = cap;
        this.connection = connection;
        this.onClose = onClose;
    }

    MpConnection connection() {
        return connection;
    }

    Capability capability() {
        if (closed) throw new IllegalStateException(InterfaceSchema.schemaName(schema.type) + " proxy used after close()");
        return cap;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        if (method.getDeclaringClass() == Object.class) {
            return switch (method.getName()) {
                case "equals" -> proxy == args[0];
                case "hashCode" -> System.identityHashCode(proxy);
                default -> InterfaceSchema.schemaName(schema.type) + " proxy" + (closed ? " (closed)" : "");
            };
        }
        MethodSchema m = schema.method(method);
        if (m == null) {
            if (method.getName().equals("close") && method.getParameterCount() == 0) {
                close(null);
                return null;
            }
            if (method.isDefault()) return InvocationHandler.invokeDefault(proxy, method, args);
            throw new IllegalStateException(method + " has no @CapnpMethod");
        }
        if (m.destroy) {
            close(m);
            return null;
        }
        if (closed) {
            throw new IllegalStateException(InterfaceSchema.schemaName(schema.type) + "." + m.name + " called after close()");
        }
        return call(m, args == null ? NO_ARGS : args);
    }

    private Object call(MethodSchema m, Object[] args) {
        // Callbacks caused by this call may arrive before we wait: take them from before it is sent.
        Waiter waiter = Waiter.current();
        waiter.enter();
        try {
            return send(m, args);
        } finally {
            waiter.leave();
        }
    }

    private Object send(MethodSchema m, Object[] args) {
        int sizeHint = m.paramSizeHint(args) + (m.context ? CONTEXT_SIZE : 0);
        OutgoingCall outgoing = cap.newCall(m.interfaceId, m.ordinal, m.paramWords, m.paramPointers, sizeHint);
        StructOut params = outgoing.params();
        CallCaps caps = m.carriesCaps ? new CallCaps(outgoing, connection) : null;
        if (m.context && connection != null) connection.writeContext(outgoing, params, m.contextPointer);
        for (int i = 0; i < args.length; i++) m.params.get(i).write(params, args[i], caps != null ? caps : Codec.NO_CAPS);
        PendingCall pending = outgoing.send();
        if (m.returnsInterface) {
            // Pipelined: usable at once; a failure shows on the first call made on it.
            Codec.InterfaceCodec result = (Codec.InterfaceCodec) m.result;
            Capability promised = pending.pipelinedCap((short) result.index);
            pending.release();
            return Proxies.objectOf(promised, result.type, connection);
        }
        if (caps == null) {
            // Results without capabilities: read without a response object.
            StructIn results = pending.awaitResults();
            try {
                return m.result == null ? null : m.result.read(results, Codec.NO_CAPS);
            } finally {
                pending.closeResults();
            }
        }
        try (Response response = pending.await()) {
            if (m.result == null) return null;
            caps.response = response;
            return m.result.read(response.results(), caps);
        }
    }

    private void close(MethodSchema destroy) {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        try {
            if (destroy != null) {
                try {
                    call(destroy, NO_ARGS);
                } catch (RpcException e) {
                    // Destroying an object whose connection is gone: nothing is left to destroy.
                    if (e.type() != RpcException.Type.DISCONNECTED) throw e;
                }
            }
        } finally {
            cap.close();
            if (onClose != null) onClose.run();
        }
    }

    /** The capabilities of one call: added to its parameters, then (once it returned) taken from its results. */
    private static final class CallCaps implements Codec.Caps {
        private final OutgoingCall call;
        private final MpConnection connection;
        Response response;   // set once the results are read

        CallCaps(OutgoingCall call, MpConnection connection) {
            this.call = call;
            this.connection = connection;
        }

        @Override
        public MpConnection connection() {
            return connection;
        }

        @Override
        public int add(Capability cap) {
            if (response != null) throw new IllegalStateException("results are read, not written, here");
            return call.addCap(cap);
        }

        @Override
        public Capability take(int index) {
            if (response == null) throw new IllegalStateException("parameters are written, not read, here");
            return response.takeCap(index);
        }
    }
}
