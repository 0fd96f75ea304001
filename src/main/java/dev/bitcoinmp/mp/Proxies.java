package dev.bitcoinmp.mp;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.Server;
import java.lang.reflect.Proxy;

/** Between Java objects and capabilities: proxies for remote objects, exports for local ones. */
final class Proxies {
    private Proxies() {}

    /** A new handle for {@code value}: the proxy's own capability, or an export of a local object. */
    static Capability capabilityOf(Object value, Class<?> type) {
        if (Proxy.isProxyClass(value.getClass()) && Proxy.getInvocationHandler(value) instanceof ProxyHandler handler) {
            return handler.capability().dup();
        }
        if (!type.isInstance(value)) throw new IllegalArgumentException(value + " is not a " + type.getName());
        return Capability.local(new ServerDispatch(value, InterfaceSchema.of(type)));
    }

    /** The Java object for {@code cap}, which it takes over: the object itself if it lives here, else a proxy. */
    static Object objectOf(Capability cap, Class<?> type, MpConnection connection) {
        Server server = cap.localServer();
        if (server instanceof ServerDispatch dispatch && type.isInstance(dispatch.impl)) {
            cap.close();
            return dispatch.impl;
        }
        return newProxy(type, cap, connection, null);
    }

    static <T> T newProxy(Class<T> type, Capability cap, MpConnection connection, Runnable onClose) {
        ProxyHandler handler = new ProxyHandler(InterfaceSchema.of(type), cap, connection, onClose);
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }
}
