package dev.bitcoinmp.mp;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Marks a Java interface as a Cap'n Proto interface: its ID is the wire contract. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface CapnpInterface {
    long id();

    /** The schema's name for it, when it differs from the Java name. */
    String name() default "";
}
