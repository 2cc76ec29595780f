package dev.hrda.config;

import java.nio.file.Path;

/**
 * Our extension {@code synth}: the built-in synthetic benchmark ({@code hrda synth}), drawn
 * at {@code root} (relative to the working directory) when absent: {@code count} source
 * images of {@code width} x {@code height}, from {@code seed}.
 */
public record SynthSpec(Path root, long seed, int width, int height, int count) {
    static SynthSpec bind(Section s) {
        if (s == null) return null;
        return new SynthSpec(Path.of(s.string("root")).toAbsolutePath().normalize(), s.has("seed") ? s.integer("seed") : 0,
                             s.integer("width", 512, 16, 1 << 14), s.integer("height", 256, 16, 1 << 14),
                             s.integer("count", 64, 4, 1 << 20));
    }
}
