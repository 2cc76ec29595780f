package dev.hrda.backend;

/** Pointwise activations; codes are hrda_activation of the native ABI. */
public enum Activation {
    RELU(0), GELU(1), SIGMOID(2);

    public final int code;

    Activation(int code) { this.code = code; }
}
