package dev.hrda.bench;

import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.backend.ConvSpec;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.uda.StrongAugment;
import org.openjdk.jmh.annotations.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Kernel throughput at MiT-B5 / DAFormer shapes. Each benchmark method is one op call followed by
 * a device synchronisation; {@link Report} turns the times into GFLOP/s or GB/s from the work
 * counts below. Run with {@code -p device=cuda} on a GPU machine.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class KernelBench {
    @Param({"cpu"})
    public String device;

    /** dtype of the activations: f32 everywhere, bf16 on CUDA only. */
    @Param({"f32"})
    public String dtype;

    Backend be;
    final List<Tensor> owned = new ArrayList<>();
    // GEMM: MiT-B5 stage-1 Mix-FFN fc1 at 512^2 (16384 tokens x 64 -> 256)
    static final int GM = 16384, GN = 256, GK = 64;
    Tensor ga, gb, gc;
    // conv: DAFormer ASPP 3x3 bottleneck 1024->256 at 128x128 (512^2 input, stride 4)
    static final ConvSpec CONV = ConvSpec.of(1, 1024, 128, 128, 256, 3, 1, 1, 1, 1);
    Tensor cx, cw, cy;
    // layer norm: stage-1 tokens, 2 images at 512^2 -> 32768 x 64
    static final int LR = 32768, LC = 64;
    Tensor lx, lg, lb, ly, lm, ls;
    // bilinear: DAFormer head upsampling of the stage-4 embedding 256 x 16x16 -> 128x128, batch 2
    static final int RNC = 2 * 256, RHI = 16, RWI = 16, RHO = 128, RWO = 128;
    Tensor rx, ry;
    // DACS strong augmentation of an HRDA mixed batch: 2 x 3 x 1024^2, blur kernel 103 (augment.h)
    static final int AB = 2, AH = 1024, AW = 1024, AK = 103;
    Tensor ax, ay, aSigma, aFactors, aOrder;
    // fused segmentation loss: HRDA's decode head, logits [2, 19, 256, 256] -> weighted labels [2, 1024, 1024] (losses.h)
    static final int SN = 2, SC = 19, SH = 256, SW = 256, SOH = 1024, SOW = 1024;
    Tensor sx, sLabels, sWeight, sLoss, sCounts, sGrad;
    // DAFormer's masked ImageNet feature distance on the bottleneck features [2, 512, 16, 16] (losses.h)
    static final int FN = 2, FC = 512, FHW = 16 * 16;
    Tensor fs, fi, fLabels, fSet, fOut, fCount, fGrad;

    private Tensor rand(DType d, int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        float[] a = new float[Math.toIntExact(n)];
        Random r = new Random(1);
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        Tensor f = Tensor.of(be, a, shape);
        if (d == DType.F32) {
            owned.add(f);
            return f;
        }
        Tensor t = Tensor.empty(be, d, shape);
        be.convert(f, t);
        f.close();
        owned.add(t);
        return t;
    }

    private Tensor empty(DType d, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        owned.add(t);
        return t;
    }

    @Setup
    public void setUp() {
        be = Backends.create(device);
        DType d = dtype.equals("bf16") ? DType.BF16 : DType.F32;
        ga = rand(d, GM, GK);
        gb = rand(d, GN, GK);
        gc = empty(d, GM, GN);
        cx = rand(d, 1, CONV.c(), CONV.h(), CONV.w());
        cw = rand(d, CONV.weightShape());
        cy = empty(d, CONV.outShape());
        lx = rand(d, LR, LC);
        lg = rand(d, LC);
        lb = rand(d, LC);
        ly = empty(d, LR, LC);
        lm = empty(DType.F32, LR);
        ls = empty(DType.F32, LR);
        rx = rand(d, RNC, RHI, RWI);
        ry = empty(d, RNC, RHO, RWO);
        ax = rand(d, AB, 3, AH, AW);
        ay = empty(d, AB, 3, AH, AW);
        aSigma = Tensor.of(be, new float[] {0.4f, 1.1f}, AB);
        aFactors = Tensor.of(be, new float[] {1.1f, 0.9f, 1.2f, 0.1f, 0.85f, 1.15f, 0.8f, -0.15f}, AB, 4);
        aOrder = Tensor.of(be, new int[] {0, 1, 2, 3, 3, 2, 1, 0}, AB, 4);
        owned.addAll(List.of(aSigma, aFactors, aOrder));
        sx = rand(d, SN, SC, SH, SW);
        sLabels = labels(SN * SOH * SOW, SN, SOH, SOW);
        sWeight = rand(d, SN, SOH, SOW);
        sLoss = empty(DType.F32, 1);
        sCounts = empty(DType.I32, 2);
        sGrad = empty(d, SN, SC, SH, SW);
        fs = rand(d, FN, FC, FHW);
        fi = rand(d, FN, FC, FHW);
        fLabels = labels(FN * FHW, FN, FHW);
        fSet = Tensor.of(be, new int[] {(1 << 6) | (1 << 7) | (1 << 11) | (0x7f << 12), 0, 0, 0, 0, 0, 0, 0}, 8);  // 6, 7, 11..18
        owned.add(fSet);
        fOut = empty(DType.F32, 1);
        fCount = empty(DType.I32, 1);
        fGrad = empty(d, FN, FC, FHW);
    }

    /** Train ids 0..18 with one pixel in eight ignored (255). */
    private Tensor labels(int n, int... shape) {
        Random r = new Random(2);
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = r.nextInt(8) == 0 ? 255 : r.nextInt(19);
        Tensor t = Tensor.of(be, l, shape);
        owned.add(t);
        return t;
    }

    @TearDown
    public void tearDown() {
        for (Tensor t : owned) t.close();
        owned.clear();
        be.close();
    }

    /** Work per call, for Report: FLOPs of the GEMM/conv, bytes moved by the memory-bound ops. */
    public static double work(String benchmark, int elementBytes) {
        return switch (benchmark) {
            case "gemm" -> 2.0 * GM * GN * GK;
            case "conv3x3" -> 2.0 * CONV.macs();
            case "layerNorm" -> 2.0 * LR * LC * elementBytes + 8.0 * LR;
            case "resizeBilinear" -> (double) RNC * (RHI * RWI + RHO * RWO) * elementBytes;
            case "gaussianBlur", "colorJitter" -> 2.0 * AB * 3 * AH * AW * elementBytes;
            // the minimal traffic of losses.h's cost notes: logits once, labels and weights once (, gradient once)
            case "segCrossEntropy" -> (double) SN * SC * SH * SW * elementBytes + (double) SN * SOH * SOW * (4 + elementBytes);
            case "segCrossEntropyBackward" -> 2.0 * SN * SC * SH * SW * elementBytes + (double) SN * SOH * SOW * (4 + elementBytes);
            case "featureDistance" -> 2.0 * FN * FC * FHW * elementBytes + 4.0 * FN * FHW;
            case "featureDistanceBackward" -> 3.0 * FN * FC * FHW * elementBytes + 4.0 * FN * FHW;
            default -> Double.NaN;
        };
    }

    @Benchmark
    public void gemm() {
        be.gemm(false, true, 1, GM, GN, GK, 1, ga, 0, 0, gb, 0, 0, 0, gc, 0, 0);
        be.synchronize();
    }

    @Benchmark
    public void conv3x3() {
        be.conv2d(CONV, cx, cw, null, cy);
        be.synchronize();
    }

    @Benchmark
    public void layerNorm() {
        be.layerNorm(lx, lg, lb, ly, lm, ls, LR, LC, 1e-6f);
        be.synchronize();
    }

    @Benchmark
    public void resizeBilinear() {
        be.resizeBilinear(rx, ry, RNC, RHI, RWI, RHO, RWO, (float) RHI / RHO, (float) RWI / RWO);
        be.synchronize();
    }

    @Benchmark
    public void gaussianBlur() {
        be.gaussianBlur(ax, ay, aSigma, AB, 3, AH, AW, AK, AK);
        be.synchronize();
    }

    @Benchmark
    public void colorJitter() {
        be.colorJitter(ax, ay, aFactors, aOrder, StrongAugment.PIPELINE_MEAN, StrongAugment.PIPELINE_STD, AB, AH, AW);
        be.synchronize();
    }

    @Benchmark
    public void segCrossEntropy() {
        be.segCrossEntropy(sx, sLabels, sWeight, 255, sLoss, sCounts, SN, SC, SH, SW, SOH, SOW);
        be.synchronize();
    }

    @Benchmark
    public void segCrossEntropyBackward() {
        be.segCrossEntropyBackward(sx, sLabels, sWeight, 255, 1.0 / (SN * SOH * SOW), sGrad, SN, SC, SH, SW, SOH, SOW, false);
        be.synchronize();
    }

    @Benchmark
    public void featureDistance() {
        be.featureDistance(fs, fi, fLabels, fSet, fOut, fCount, FN, FC, FHW);
        be.synchronize();
    }

    @Benchmark
    public void featureDistanceBackward() {
        be.featureDistanceBackward(fs, fi, fLabels, fSet, 1e-3, fGrad, FN, FC, FHW, false);
        be.synchronize();
    }
}
