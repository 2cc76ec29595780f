package dev.hrda.config;

import java.util.List;

/**
 * MIC's masked image consistency ({@code uda.mask_*}, hrda_spec.md §4): which images are
 * masked ({@code mode}), the teacher and confidence threshold (the self-training ones:
 * {@code sameAlpha}, {@code samePseudoThreshold}), the loss weight, and the block mask:
 * patches of {@code blockSize} pixels dropped with probability {@code maskRatio}.
 */
public record MaskSpec(String mode, boolean sameAlpha, boolean samePseudoThreshold, double lambda, String generatorType,
                       double maskRatio, int blockSize) {
    static final List<String> MODES = List.of("separate", "separatesrc", "separatetrg", "separateaug", "separatesrcaug", "separatetrgaug");

    /** The MIC part of a {@code uda} section, or null where {@code mask_mode} is null. */
    static MaskSpec bind(Section uda) {
        if (!uda.has("mask_mode")) return null;
        String mode = uda.choice("mask_mode", null, MODES.toArray(String[]::new));
        uda.fixed("mask_alpha", "same", "a separate MIC teacher is not implemented");
        uda.fixed("mask_pseudo_threshold", "same", "MIC reuses the self-training pseudo-label weight");
        double lambda = uda.number("mask_lambda", 1, 0, Double.MAX_VALUE);
        if (lambda <= 0) throw uda.error("mask_lambda", "must be positive where mask_mode is set (set mask_mode: null to turn MIC off)");
        Section g = uda.section("mask_generator", "type", "mask_ratio", "mask_block_size");
        String type = g.choice("type", null, "block");
        return new MaskSpec(mode, true, true, lambda, type, g.number("mask_ratio", 0, 1), g.integer("mask_block_size", 1, Integer.MAX_VALUE));
    }
}
