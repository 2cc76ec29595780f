package dev.hrda.testing;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real data samples in ../shared/fixtures (read only; tests never write there). */
public final class Fixtures {
    private Fixtures() {}

    /** The fixtures' root: system property hrda.fixtures (set by surefire), else ../../shared/fixtures. */
    public static Path root() {
        String p = System.getProperty("hrda.fixtures");
        Path root = p != null ? Path.of(p) : Path.of("../../shared/fixtures");
        root = root.toAbsolutePath().normalize();
        assertTrue(Files.isDirectory(root.resolve("cityscapes")), "fixtures not found at " + root);
        return root;
    }
}
