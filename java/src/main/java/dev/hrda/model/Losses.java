package dev.hrda.model;

import dev.hrda.tensor.Tensor;

import java.util.Map;

/** A scalar loss and its named, already weighted terms (mmseg log names, e.g. decode.loss_seg). */
public record Losses(Tensor total, Map<String, Tensor> terms) {}
