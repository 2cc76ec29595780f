package dev.hrda.config;

import java.nio.file.Path;

/**
 * Where a config value was set: a file and line (0 where unknown), or a {@code --cfg-options}
 * entry ({@code file} null). Shown with the file relative to the working directory when it
 * lies below it.
 */
public record Origin(Path file, int line, String option) {
    public static Origin of(Path file, int line) {
        return new Origin(file, line, null);
    }

    public static Origin option(String keyValue) {
        return new Origin(null, 0, keyValue);
    }

    public Origin atLine(int l) {
        return new Origin(file, l, option);
    }

    /** The file as shown in messages: relative to the working directory where below it. */
    public static String display(Path p) {
        Path abs = p.toAbsolutePath().normalize(), cwd = Path.of("").toAbsolutePath();
        return abs.startsWith(cwd) && !abs.equals(cwd) ? cwd.relativize(abs).toString() : abs.toString();
    }

    @Override
    public String toString() {
        if (file == null) return "--cfg-options " + option;
        return display(file) + (line > 0 ? ":" + line : "");
    }
}
