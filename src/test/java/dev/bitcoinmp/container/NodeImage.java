package dev.bitcoinmp.container;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.testcontainers.DockerClientFactory;

/**
 * The node image the container tests run: built once per test JVM by {@code src/docker/build-images.sh} from what
 * {@code mvn package} left in target/ (these tests run after package, as Failsafe integration tests), on the local
 * base image that script makes from this JVM's own JDK. Nothing is pulled. Without Docker the tests are skipped.
 */
final class NodeImage {
    private NodeImage() {}

    static final String TAG = "bitcoin-mp:latest";

    private static String built;
    private static AssertionError failed;

    static final String NO_DOCKER =
            "Docker is not available: container tests skipped (start dockerd, or run .ci/run, which does)";

    static boolean dockerAvailable() {
        return DockerClientFactory.instance().isDockerAvailable();
    }

    /** Skips the calling test when no Docker engine answers. */
    static void assumeDocker() {
        assumeTrue(dockerAvailable(), NO_DOCKER);
    }

    /** The image's name, building it first if this JVM has not yet. */
    static synchronized String get() throws IOException, InterruptedException {
        assumeDocker();
        if (built != null) return built;
        if (failed != null) throw failed;
        Path basedir = Path.of(System.getProperty("bitcoinmp.basedir", System.getProperty("user.dir")));
        Path log = Files.createDirectories(basedir.resolve("target/docker")).resolve("build-images.log");
        ProcessBuilder builder = new ProcessBuilder(basedir.resolve("src/docker/build-images.sh").toString(), "--tag", TAG)
                .directory(basedir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process process = builder.start();
        if (!process.waitFor(15, TimeUnit.MINUTES)) {
            process.destroyForcibly().waitFor();
            throw failed = new AssertionError("build-images.sh did not finish within 15 minutes; see " + log);
        }
        List<String> lines = Files.readAllLines(log);
        if (process.exitValue() != 0) {
            throw failed = new AssertionError("build-images.sh failed with exit code " + process.exitValue() + ":\n"
                    + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
        }
        System.out.println(lines.isEmpty() ? "" : lines.getLast());   // the image sizes
        return built = TAG;
    }
}
