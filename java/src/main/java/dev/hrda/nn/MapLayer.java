package dev.hrda.nn;

import dev.hrda.tensor.Tensor;

/** A module that maps one NCHW tensor to another (ConvModule and its separable variant). */
public interface MapLayer {
    Tensor forward(Tensor x);
}
