package dev.hrda.config;

import dev.hrda.data.ClassBalancedSampler;

/**
 * RIPU's class-balanced source sampling ({@code data.train.class_balanced_sampling}): the run's
 * source files drawn before it starts in sub-epochs of {@code subEpoch} picks, each pick's class
 * weighted by 1 / log(1.01 + its share of the sub-epoch so far) ({@link ClassBalancedSampler}).
 */
public record ClassBalancedSpec(int subEpoch) {
    static final String KEY = "class_balanced_sampling";

    static ClassBalancedSpec bind(Section s) {
        return new ClassBalancedSpec(s.integer("sub_epoch", ClassBalancedSampler.SUB_EPOCH, 1, Integer.MAX_VALUE));
    }
}
