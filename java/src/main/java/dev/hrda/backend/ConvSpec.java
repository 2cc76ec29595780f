package dev.hrda.backend;

/**
 * Geometry of a 2-D convolution, as torch.nn.Conv2d: input [n, c, h, w], weight
 * [k, c / groups, kh, kw], output [n, k, outH, outW].
 */
public record ConvSpec(int n, int c, int h, int w, int k, int kh, int kw,
                       int strideH, int strideW, int padH, int padW, int dilH, int dilW, int groups) {
    public ConvSpec {
        if (n < 1 || c < 1 || h < 1 || w < 1 || k < 1 || kh < 1 || kw < 1) {
            throw new IllegalArgumentException("conv sizes must be positive: " + this);
        }
        if (strideH < 1 || strideW < 1 || dilH < 1 || dilW < 1 || padH < 0 || padW < 0) {
            throw new IllegalArgumentException("conv stride/dilation must be positive, padding non-negative: " + this);
        }
        if (groups < 1 || c % groups != 0 || k % groups != 0) {
            throw new IllegalArgumentException("groups " + groups + " must divide in channels " + c + " and out channels " + k);
        }
        // accessors are not usable yet inside a compact constructor: use the parameters
        if ((h + 2 * padH - dilH * (kh - 1) - 1) < 0 || (w + 2 * padW - dilW * (kw - 1) - 1) < 0) {
            throw new IllegalArgumentException("conv output would be empty for input " + h + "x" + w + ": " + this);
        }
    }

    public static ConvSpec of(int n, int c, int h, int w, int k, int kernel, int stride, int pad, int dil, int groups) {
        return new ConvSpec(n, c, h, w, k, kernel, kernel, stride, stride, pad, pad, dil, dil, groups);
    }

    public int outH() { return (h + 2 * padH - dilH * (kh - 1) - 1) / strideH + 1; }

    public int outW() { return (w + 2 * padW - dilW * (kw - 1) - 1) / strideW + 1; }

    public boolean depthwise() { return groups == c && k == c; }

    public int[] weightShape() { return new int[] {k, c / groups, kh, kw}; }

    public int[] outShape() { return new int[] {n, k, outH(), outW()}; }

    /** Multiply-accumulates of the forward pass. */
    public long macs() { return (long) n * k * outH() * outW() * (c / groups) * kh * kw; }
}
