package dev.bitcoinmp.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeLogTest {

    @TempDir
    Path dir;

    @Test
    void linesGoToTheFileAndTheConsoleWithATimestamp() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Path file = dir.resolve("regtest/debug.log");
        try (NodeLog log = new NodeLog(file, new PrintStream(console, true, StandardCharsets.UTF_8), "ipc"::equals)) {
            log.info("Done loading");
            log.debug("ipc", () -> "Process bitcoin-node pid 42 launched");
        }
        List<String> lines = Files.readAllLines(file);
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Done loading"), lines.get(0));
        assertTrue(lines.get(1).endsWith(" [ipc] Process bitcoin-node pid 42 launched"), lines.get(1));
        assertEquals(String.join("\n", lines) + "\n", console.toString(StandardCharsets.UTF_8));
    }

    @Test
    void debugLinesOfCategoriesThatAreOffAreNeverBuilt() throws Exception {
        AtomicInteger built = new AtomicInteger();
        try (NodeLog log = new NodeLog(null, null, "ipc"::equals)) {
            log.debug("rpc", () -> "x" + built.incrementAndGet());
            assertEquals(0, built.get());
            log.debug("ipc", () -> "x" + built.incrementAndGet());
            assertEquals(1, built.get());
        }
    }
}
