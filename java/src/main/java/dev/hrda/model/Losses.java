package dev.hrda.model;

import dev.hrda.tensor.Tensor;

import java.util.Map;

/**
 * A scalar loss and its named, already weighted terms (mmseg log names, e.g. decode.loss_seg),
 * and the metrics mmseg logs beside them (decode.acc_seg: pixel accuracy in percent).
 */
public record Losses(Tensor total, Map<String, Tensor> terms, Map<String, Double> metrics) {
    public Losses(Tensor total, Map<String, Tensor> terms) {
        this(total, terms, Map.of());
    }
}
