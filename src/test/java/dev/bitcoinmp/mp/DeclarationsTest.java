package dev.bitcoinmp.mp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

/**
 * The declarations the build generated, the class-file reading of them and reflection agree, for every declared
 * interface; stale or missing generated declarations are not used.
 */
class DeclarationsTest {

    private static final List<Class<?>> DECLARED = List.of(Init.class, Echo.class, Rpc.class, Mining.class, ThreadMap.class,
            IpcThread.class, TestInit.class, Calculator.class, Printer.class, Mirror.class, SchemaConformanceTest.Layouts.class,
            Mixed.class, AllElements.class);

    /** A value the generated encoding cannot carry: the build generates nothing for it. */
    @CapnpInterface(id = 0x8000000000000002L, name = "tab\there")
    interface TabInName {
        @CapnpMethod(ordinal = 0)
        void close();
    }

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
        for (Class<?> type : DECLARED) {
            Declarations read = Declarations.fromClassFile(type);
            assertNotNull(read, "the class file of " + type.getName() + " is read");
            Declarations reflected = Declarations.fromReflection(type);
            assertEquals(reflected.declared(), read.declared(), type.getName());
            assertEquals(reflected.methods(), read.methods(), type.getName());
            assertEquals(reflected.unsigned(), read.unsigned(), type.getName());
            assertEquals(reflected.all(), read.all(), type.getName());
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

    @Test
    void generatedAgreesWithClassFile() throws Exception {
        for (Class<?> type : DECLARED) {
            if (!type.isInterface()) {
                assertNull(Declarations.fromGenerated(type), "only interfaces have generated declarations: " + type);
                continue;
            }
            Declarations generated = Declarations.fromGenerated(type);
            assertNotNull(generated, "the build generated declarations for " + type.getName());
            Declarations read = Declarations.fromClassFile(type);
            assertEquals(read.declared(), generated.declared(), type.getName());
            assertEquals(read.methods(), generated.methods(), type.getName());
            assertEquals(read.unsigned(), generated.unsigned(), type.getName());
            assertEquals(read.all(), generated.all(), type.getName());
            assertEquals(read.encode(), generated.encode(), type.getName());
        }
        // Not for what is no annotated interface.
        assertNull(Declarations.fromGenerated(Runnable.class));
        assertNull(Declarations.fromGenerated(DeclarationsTest.class));
        assertNull(Declarations.fromGenerated(Declarations.class));
    }

    @Test
    void staleDeclarationsAreNotUsed() {
        String encoded = Declarations.fromClassFile(AllElements.class).encode();
        assertTrue(Declarations.decode(encoded).describes(AllElements.class));
        // A method the interface no longer has, or one it has that the list lacks: stale.
        assertFalse(Declarations.decode(encoded + "K\tremoved()V\n").describes(AllElements.class));
        String withoutOne = encoded.replace("K\tnotDeclared()V\n", "");
        assertTrue(withoutOne.length() < encoded.length());
        assertFalse(Declarations.decode(withoutOne).describes(AllElements.class));
        assertFalse(Declarations.decode(encoded).describes(Echo.class));
    }

    @Test
    void valuesTheEncodingCannotCarryAreReadFromTheClassFile() {
        assertNull(Declarations.fromClassFile(TabInName.class).encode());
        assertNull(Declarations.fromGenerated(TabInName.class), "nothing generated");
        assertEquals(new Declarations.InterfaceDecl(0x8000000000000002L, "tab\there"), Declarations.interfaceOf(TabInName.class));
    }

    @Test
    void malformedEncodingIsRejected() {
        for (String bad : List.of("X\t1\n", "I\tzz\tname\n", "M\tm()V\n", "K\tm()V")) {
            assertThrows(RuntimeException.class, () -> Declarations.decode(bad), bad);
        }
    }
}
