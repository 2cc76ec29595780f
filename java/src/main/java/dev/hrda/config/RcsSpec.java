package dev.hrda.config;

/**
 * Rare class sampling ({@code data.train.rare_class_sampling}, hrda_spec.md §5): source files
 * with more than {@code minPixels} of a class drawn with P(c) = softmax((1 - f_c) / classTemp),
 * re-cropped until the crop holds more than {@code minPixels * minCropRatio} pixels of it.
 */
public record RcsSpec(int minPixels, double classTemp, double minCropRatio) {
    static RcsSpec bind(Section s) {
        return new RcsSpec(s.integer("min_pixels", 1, Integer.MAX_VALUE), s.number("class_temp", Double.MIN_VALUE, Double.MAX_VALUE),
                           s.number("min_crop_ratio", 0, Double.MAX_VALUE));
    }
}
