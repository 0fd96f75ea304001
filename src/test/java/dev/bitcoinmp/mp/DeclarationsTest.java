package dev.bitcoinmp.mp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.interfaces.Mining;
import dev.bitcoinmp.interfaces.Rpc;
import dev.bitcoinmp.testing.Calculator;
import dev.bitcoinmp.testing.Mirror;
import dev.bitcoinmp.testing.Mixed;
import dev.bitcoinmp.testing.Printer;
import dev.bitcoinmp.testing.TestInit;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The class-file reading of the declarations gives what reflection gives, for every declared interface. */
class DeclarationsTest {

    /** Nested, with every element set away from its default, and a method without the annotation. */
    @CapnpInterface(id = 0x8000000000000001L, name = "Renamed")
    interface AllElements {
        @CapnpMethod(ordinal = 7, context = false, result = "answer", name = "renamed")
        long[] method(int a, String b, List<byte[]> c);

        @CapnpMethod(ordinal = 8)
        @Unsigned
        long unsigned(int signed, @Unsigned short marked, @Unsigned List<Integer> list);

        @CapnpMethod(ordinal = 0)
        void close();

        default void notDeclared() {}
    }

    @Test
    void classFileAndReflectionAgree() {
        int methods = 0;
        int marks = 0;
        for (Class<?> type : List.of(Init.class, Echo.class, Rpc.class, Mining.class, ThreadMap.class, IpcThread.class,
                TestInit.class, Calculator.class, Printer.class, Mirror.class, SchemaConformanceTest.Layouts.class, Mixed.class,
                AllElements.class)) {
            Declarations read = Declarations.fromClassFile(type);
            assertNotNull(read, "the class file of " + type.getName() + " is read");
            Declarations reflected = Declarations.fromReflection(type);
            assertEquals(reflected.declared(), read.declared(), type.getName());
            assertEquals(reflected.methods(), read.methods(), type.getName());
            assertEquals(reflected.unsigned(), read.unsigned(), type.getName());
            methods += read.methods().size();
            marks += read.unsigned().size();
        }
        assertTrue(methods > 20, "methods compared: " + methods);
        assertTrue(marks >= 2, "methods with @Unsigned compared: " + marks);
    }

    @Test
    void valuesAwayFromTheDefaults() throws Exception {
        assertEquals(new Declarations.InterfaceDecl(0x8000000000000001L, "Renamed"), Declarations.interfaceOf(AllElements.class));
        assertEquals(new Declarations.MethodDecl(7, false, "answer", "renamed"),
                Declarations.methodOf(AllElements.class.getMethod("method", int.class, String.class, List.class)));
        assertEquals(new Declarations.MethodDecl(0, true, "result", ""), Declarations.methodOf(AllElements.class.getMethod("close")));
        assertNull(Declarations.methodOf(AllElements.class.getMethod("notDeclared")));
        var unsigned = AllElements.class.getMethod("unsigned", int.class, short.class, List.class);
        assertEquals(List.of(true, false, true, true), List.of(Declarations.isUnsigned(unsigned, -1),
                Declarations.isUnsigned(unsigned, 0), Declarations.isUnsigned(unsigned, 1), Declarations.isUnsigned(unsigned, 2)));
        assertEquals(false, Declarations.isUnsigned(AllElements.class.getMethod("close"), -1));
        assertNull(Declarations.interfaceOf(Runnable.class));
        assertNull(Declarations.interfaceOf(String.class));
    }
}
