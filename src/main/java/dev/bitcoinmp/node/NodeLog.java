package dev.bitcoinmp.node;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The node's log: {@code debug.log} in the network data directory (or {@code -debuglogfile}) and, with
 * {@code -printtoconsole}, standard output; one line each, {@code <UTC time> <message>}, flushed as written.
 * Debug lines of a category are built only when that category is on.
 */
public final class NodeLog implements AutoCloseable {

    private final Writer file;           // null: no log file
    private final PrintStream console;   // null: not printed
    private final Predicate<String> categories;
    private final Path path;

    public NodeLog(Path path, PrintStream console, Predicate<String> categories) throws IOException {
        this.path = path;
        this.console = console;
        this.categories = categories;
        if (path != null) {
            Files.createDirectories(path.toAbsolutePath().getParent());
            file = Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } else {
            file = null;
        }
    }

    /** The log file as it is, or null without one. */
    public Path path() {
        return path;
    }

    public boolean enabled(String category) {
        return categories.test(category);
    }

    public synchronized void info(String message) {
        String line = Instant.now().truncatedTo(ChronoUnit.SECONDS) + " " + message + "\n";
        if (file != null) {
            try {
                file.write(line);
                file.flush();
            } catch (IOException e) {
                // A full disk must not stop the node; the console (if on) still gets the line.
            }
        }
        if (console != null) {
            console.print(line);
            console.flush();
        }
    }

    /** A debug line of {@code category}, built only if that category is on. */
    public void debug(String category, Supplier<String> message) {
        if (categories.test(category)) info("[" + category + "] " + message.get());
    }

    @Override
    public synchronized void close() throws IOException {
        if (file != null) file.close();
    }
}
