package dev.bitcoinmp.mp;

import static java.lang.constant.ConstantDescs.CD_Object;
import static java.lang.constant.ConstantDescs.INIT_NAME;
import static java.lang.constant.ConstantDescs.MTD_void;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * A build step (run by Maven after each compilation, over the compiled classes): for every interface annotated
 * with {@link CapnpInterface}, writes a small class next to it that gives its {@link Declarations} as one
 * string, so that a process finds them without reading class files (see {@link Declarations#fromGenerated}).
 *
 * <p>The class for {@code p.X} is {@code p.X$$CapnpDeclarations}: public, final, synthetic, with a public
 * constructor and {@code Supplier<String>.get()} returning the encoded declarations. Classes it wrote before for
 * interfaces that are no longer annotated are deleted.
 *
 * <p>Arguments: the class directories to process.
 */
public final class DeclarationsGenerator {
    private DeclarationsGenerator() {}

    public static void main(String[] args) throws IOException {
        int written = 0;
        for (String dir : args) written += generate(Path.of(dir));
        System.out.println("DeclarationsGenerator: " + written + " interface declaration classes written");
    }

    /** Processes one class directory; returns how many classes were written. */
    static int generate(Path root) throws IOException {
        if (!Files.isDirectory(root)) return 0;
        List<Path> classes;
        try (Stream<Path> files = Files.walk(root)) {
            classes = files.filter(p -> p.toString().endsWith(".class")).sorted().toList();
        }
        int written = 0;
        for (Path file : classes) {
            String name = root.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
            name = name.substring(0, name.length() - ".class".length());
            if (name.endsWith(Declarations.GENERATED_SUFFIX)) {
                // Ours from an earlier build: removed if its interface is gone or no longer annotated.
                Path source = file.resolveSibling(file.getFileName().toString()
                        .replace(Declarations.GENERATED_SUFFIX + ".class", ".class"));
                if (!Files.exists(source) || parse(Files.readAllBytes(source)).declared() == null) Files.delete(file);
                continue;
            }
            Declarations declarations = parse(Files.readAllBytes(file));
            if (declarations.declared() == null) continue;
            String encoded = declarations.encode();
            if (encoded == null) continue;   // a value the encoding cannot carry: read from the class file at run time
            byte[] bytes = declarationsClass(name.replace('/', '.') + Declarations.GENERATED_SUFFIX, encoded);
            Files.write(file.resolveSibling(file.getFileName().toString().replace(".class",
                    Declarations.GENERATED_SUFFIX + ".class")), bytes);
            written++;
        }
        return written;
    }

    private static Declarations parse(byte[] classFile) throws IOException {
        return Declarations.parse(new DataInputStream(new ByteArrayInputStream(classFile)));
    }

    /** The class file of {@code className}: {@code Supplier<String>} whose {@code get()} returns {@code data}. */
    static byte[] declarationsClass(String className, String data) {
        ClassDesc self = ClassDesc.of(className);
        ClassDesc supplier = ClassDesc.of("java.util.function.Supplier");
        return ClassFile.of().build(self, cls -> cls
                .withFlags(ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL | ClassFile.ACC_SUPER | ClassFile.ACC_SYNTHETIC)
                .withSuperclass(CD_Object)
                .withInterfaceSymbols(supplier)
                .withMethodBody(INIT_NAME, MTD_void, ClassFile.ACC_PUBLIC, code -> code
                        .aload(0)
                        .invokespecial(CD_Object, INIT_NAME, MTD_void)
                        .return_())
                .withMethodBody("get", MethodTypeDesc.of(CD_Object), ClassFile.ACC_PUBLIC, code -> code
                        .ldc(data)
                        .areturn()));
    }

}
