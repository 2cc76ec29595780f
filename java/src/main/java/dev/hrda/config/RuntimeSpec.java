package dev.hrda.config;

/**
 * Our extension {@code runtime}: the device ({@code auto}: CUDA where usable, else the CPU),
 * the parameter and activation dtype, and activation checkpointing (mmseg's {@code with_cp}).
 */
public record RuntimeSpec(String device, String dtype, boolean withCp) {
    public static final RuntimeSpec DEFAULT = new RuntimeSpec("auto", "float32", false);

    static RuntimeSpec bind(Section s) {
        if (s == null) return DEFAULT;
        return new RuntimeSpec(s.choice("device", "auto", "auto", "cpu", "cuda"), s.choice("dtype", "float32", "float32", "float64"),
                               s.flag("with_cp", false));
    }
}
