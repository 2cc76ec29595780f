package dev.hrda.nn;

import java.util.Random;

/** Host-side initialisers (the weights are copied to the device once). */
public final class Init {
    private Init() {}

    public static double[] constant(long n, double v) {
        double[] a = new double[Math.toIntExact(n)];
        java.util.Arrays.fill(a, v);
        return a;
    }

    public static double[] normal(long n, double std, Random r) {
        double[] a = new double[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian() * std;
        return a;
    }

    /** Normal truncated to [-2std, 2std] (timm trunc_normal_ as used by MiT). */
    public static double[] truncNormal(long n, double std, Random r) {
        double[] a = new double[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            double v;
            do v = r.nextGaussian(); while (Math.abs(v) > 2);
            a[i] = v * std;
        }
        return a;
    }

    /** U(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for conv and linear layers. */
    public static double[] uniformFanIn(long n, long fanIn, Random r) {
        double bound = 1.0 / Math.sqrt(fanIn);
        double[] a = new double[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (r.nextDouble() * 2 - 1) * bound;
        return a;
    }

    /** N(0, 2/fanIn): torch.nn.init.kaiming_normal_ with its defaults (fan_in, gain sqrt(2)). */
    public static double[] kaimingNormalFanIn(long n, long fanIn, Random r) {
        return normal(n, Math.sqrt(2.0 / fanIn), r);
    }

    /** N(0, 2/fanOut): mmcv kaiming_init (mode fan_out, ReLU gain), MiT's conv init. */
    public static double[] kaimingNormalFanOut(long n, long fanOut, Random r) {
        return normal(n, Math.sqrt(2.0 / fanOut), r);
    }
}
