package dev.bitcoinmp.mp;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A method of a {@link CapnpInterface}: its ordinal, whether its parameters start with libmultiprocess'
 * {@code context :Proxy.Context} (the call then runs on the server thread the context names), and the name
 * of the results' only field. Parameters follow in declaration order, named as in Java. A method named
 * {@code close} is the interface's {@code destroy}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface CapnpMethod {
    int ordinal();

    boolean context() default true;

    String result() default "result";

    /** The schema's name for it, when it differs from the Java name. */
    String name() default "";
}
