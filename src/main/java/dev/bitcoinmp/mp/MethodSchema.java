package dev.bitcoinmp.mp;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.util.ArrayList;
import java.util.List;

/**
 * One method of a Cap'n Proto interface, derived from its Java declaration: the parameter struct (with
 * libmultiprocess' context first where the method takes one) and the result struct (one field, or none).
 */
final class MethodSchema {

    final Method method;
    final long interfaceId;
    final int ordinal;
    final String name;
    final boolean context;
    final boolean destroy;
    final List<Codec> params = new ArrayList<>();
    final Codec result;            // null for void
    final int paramWords, paramPointers, resultWords, resultPointers;
    final int contextPointer;      // pointer index of the context in the params, or -1
    final boolean returnsInterface;
    final boolean carriesCaps;     // a parameter or the result can hold a capability
    final boolean oneParam;        // called with one argument and no array per call

    /**
     * How the implementation is called. A spawned child makes a handful of calls in its life, and spinning
     * method handles costs it more at start-up than the rest of its work: launched with
     * {@code -Djdk.reflect.useNativeAccessorOnly=true}, it calls through core reflection's native accessor.
     * Other processes call through method handles built on first use.
     */
    private static final boolean REFLECTIVE = Boolean.getBoolean("jdk.reflect.useNativeAccessorOnly");
    private volatile MethodHandle invoker;    // (Object impl, Object[] args) -> Object result
    private volatile MethodHandle invoker1;   // (Object impl, Object arg) -> Object result when oneParam

    MethodSchema(Method method, Declarations.MethodDecl annotation, long interfaceId) {
        this.method = method;
        this.interfaceId = interfaceId;
        this.ordinal = annotation.ordinal();
        this.name = annotation.name().isEmpty() ? (method.getName().equals("close") ? "destroy" : method.getName()) : annotation.name();
        this.context = annotation.context();
        this.destroy = method.getName().equals("close") && method.getParameterCount() == 0;
        StructLayout in = new StructLayout();
        contextPointer = context ? in.addPointer() : -1;
        Parameter[] parameters = method.getParameters();
        for (int i = 0; i < parameters.length; i++) {
            Parameter p = parameters[i];
            if (!p.isNamePresent()) {
                throw new IllegalStateException("compile with -parameters: names of " + method + " are part of its schema");
            }
            params.add(Codec.of(p.getName(), p.getParameterizedType(), Declarations.isUnsigned(method, i), in));
        }
        paramWords = in.dataWords();
        paramPointers = in.pointers();
        StructLayout out = new StructLayout();
        result = method.getReturnType() == void.class ? null
                : Codec.of(annotation.result(), method.getGenericReturnType(), Declarations.isUnsigned(method, -1), out);
        resultWords = out.dataWords();
        resultPointers = out.pointers();
        returnsInterface = result instanceof Codec.InterfaceCodec;
        boolean caps = result != null && result.carriesCaps();
        for (Codec c : params) caps |= c.carriesCaps();
        carriesCaps = caps;
        oneParam = method.getParameterCount() == 1;
        try {
            method.setAccessible(true);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot call " + method, e);
        }
    }

    /** Calls the method of one parameter on {@code impl}; what it throws comes out unwrapped. */
    Object invoke(Object impl, Object arg) throws Throwable {
        if (REFLECTIVE) return invokeReflectively(impl, new Object[] {arg});
        MethodHandle h = invoker1;
        if (h == null) invoker1 = h = handle().asType(MethodType.methodType(Object.class, Object.class, Object.class));
        return (Object) h.invokeExact(impl, arg);
    }

    /** Calls the method on {@code impl} with {@code args}; what it throws comes out unwrapped. */
    Object invoke(Object impl, Object[] args) throws Throwable {
        if (REFLECTIVE) return invokeReflectively(impl, args);
        MethodHandle h = invoker;
        if (h == null) {
            invoker = h = handle().asSpreader(Object[].class, method.getParameterCount())
                    .asType(MethodType.methodType(Object.class, Object.class, Object[].class));
        }
        return (Object) h.invokeExact(impl, args);
    }

    private MethodHandle handle() {
        try {
            return MethodHandles.lookup().unreflect(method);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot call " + method, e);
        }
    }

    private Object invokeReflectively(Object impl, Object[] args) throws Throwable {
        try {
            return method.invoke(impl, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    int paramSizeHint(Object[] args) {
        int size = 0;
        for (int i = 0; i < params.size(); i++) size += params.get(i).sizeHint(args[i]);
        return size;
    }

    @Override
    public String toString() {
        return method.getDeclaringClass().getSimpleName() + "." + method.getName();
    }
}
