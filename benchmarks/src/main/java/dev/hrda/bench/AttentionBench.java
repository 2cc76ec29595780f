package dev.hrda.bench;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The fused kernels against the unfused op chains they replace.
 *
 * <p>Attention at the four MiT-B5 stages, batch 2, 512^2 input (s1..s4-512: N = 16384/4096/1024/256
 * tokens, C = 64/128/320/512, heads 1/2/5/8, M = 256 keys after spatial reduction) and 1024^2
 * input (s1..s4-1024: N x4, M = 1024): fused ({@link F#attention}) vs unfused
 * ({@link F#attentionUnfused}: transposes, GEMM, scale, softmax, GEMM), forward only and forward +
 * backward (through the tape, loss = sum(out * dout) for both, so both include the same mul and
 * sum). FLOPs counted as the GEMMs' (4 B N M C forward, 14 B N M C forward + backward, the
 * FlashAttention convention: recomputation not counted), the same for both paths.
 *
 * <p>HRDA fusion at training size (K = 19 classes, LR 128x128, detail 128x128 at (64, 32) of the
 * 256x256 fused grid, batch 2): {@link F#hrdaFuse} vs the composition of mul, resize x2, insert
 * and add; bytes counted as the fused kernels' compulsory traffic.
 *
 * <p>The CPU twin is a reference, not a fast path: on the CPU run the 512^2 shapes only
 * ({@code -p shape=s1-512,...}) with few iterations.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class AttentionBench {
    static final int BATCH = 2;

    /** {N, C, heads, M} of a shape name. */
    static int[] shape(String name) {
        int stage = name.charAt(1) - '1';
        int[] n = {16384, 4096, 1024, 256}, c = {64, 128, 320, 512}, heads = {1, 2, 5, 8};
        boolean hi = name.endsWith("-1024");
        return new int[] {n[stage] * (hi ? 4 : 1), c[stage], heads[stage], hi ? 1024 : 256};
    }

    // fusion: K classes, LR h x w, detail hh x ww at (top, left) of the 2h x 2w fused grid
    static final int FK = 19, FH = 128, FW = 128, FHH = 128, FWW = 128, FTOP = 64, FLEFT = 32;

    /** Work per call for {@link Report}: FLOPs (attention) or bytes (fusion); NaN for other names. */
    public static double work(String benchmark, String shapeName, int elementBytes) {
        if (benchmark.startsWith("attention")) {
            int[] s = shape(shapeName);
            double gemm = (double) BATCH * s[0] * s[3] * s[1];  // B N M C
            return (benchmark.endsWith("FwdBwd") ? 14 : 4) * gemm;
        }
        double nl = (double) BATCH * FK * FH * FW, nh = (double) BATCH * FK * FHH * FWW;
        if (benchmark.startsWith("fusion")) {
            // forward: lr, att, hr in, fused (4 nl) out; backward adds dfused in, dlr, datt, dhr out
            return (benchmark.endsWith("FwdBwd") ? 14 * nl + 3 * nh : 6 * nl + nh) * elementBytes;
        }
        return Double.NaN;
    }

    /** Whether {@link #work} counts FLOPs (else bytes). */
    public static boolean countsFlops(String benchmark) {
        return benchmark.startsWith("attention");
    }

    static DType dtypeOf(String s) {
        return s.equals("bf16") ? DType.BF16 : DType.F32;
    }

    /** Owns a backend and the tensors made in setup. */
    abstract static class Base {
        Backend be;
        DType dt;
        final List<Tensor> owned = new ArrayList<>();

        Tensor rand(double lo, double hi, int... shape) {
            long n = 1;
            for (int s : shape) n *= s;
            float[] a = new float[Math.toIntExact(n)];
            Random r = new Random(owned.size() + 1);
            for (int i = 0; i < a.length; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
            Tensor t = Tensor.empty(be, dt, shape);
            t.copyFrom(a);
            owned.add(t);
            return t;
        }

        Tensor empty(DType d, int... shape) {
            Tensor t = Tensor.empty(be, d, shape);
            owned.add(t);
            return t;
        }

        void close() {
            for (Tensor t : owned) t.close();
            owned.clear();
            be.close();
        }
    }

    @State(Scope.Benchmark)
    public static class Attn extends Base {
        @Param({"cpu"})
        public String device;
        @Param({"f32"})
        public String dtype;
        @Param({"s1-512", "s2-512", "s3-512", "s4-512", "s1-1024", "s2-1024", "s3-1024", "s4-1024"})
        public String shape;

        int n, c, heads, m;
        float scale;
        Tensor q, kv, out, lse, dout;

        @Setup
        public void setUp() {
            be = Backends.create(device);
            dt = dtypeOf(dtype);
            int[] s = shape(shape);
            n = s[0];
            c = s[1];
            heads = s[2];
            m = s[3];
            scale = (float) (1 / Math.sqrt(c / heads));
            q = rand(-1, 1, BATCH, n, c);
            kv = rand(-1, 1, BATCH, m, 2 * c);
            dout = rand(-1, 1, BATCH, n, c);
            out = empty(dt, BATCH, n, c);
            lse = empty(DType.F32, BATCH, heads, n);
        }

        @TearDown
        public void tearDown() { close(); }

        /** Forward + backward of f through the tape; gradients freed with the arena. */
        void fwdBwd(boolean fused) {
            try (Arena a = Arena.open(); Tape tape = Tape.record()) {
                q.requiresGrad = true;
                kv.requiresGrad = true;
                Tensor o = fused ? F.attention(q, kv, heads, scale) : F.attentionUnfused(q, kv, heads, scale);
                tape.backward(F.sum(F.mul(o, dout)));
                be.synchronize();
            } finally {
                q.grad = null;
                kv.grad = null;
                q.requiresGrad = false;
                kv.requiresGrad = false;
            }
        }
    }

    @State(Scope.Benchmark)
    public static class Fusion extends Base {
        @Param({"cpu"})
        public String device;
        @Param({"f32"})
        public String dtype;

        Tensor lr, att, hr, dfused, mask, ones;

        @Setup
        public void setUp() {
            be = Backends.create(device);
            dt = dtypeOf(dtype);
            lr = rand(-3, 3, BATCH, FK, FH, FW);
            att = rand(0, 1, BATCH, FK, FH, FW);
            hr = rand(-3, 3, BATCH, FK, FHH, FWW);
            dfused = rand(-1, 1, BATCH, FK, 2 * FH, 2 * FW);
            float[] mk = new float[BATCH * FK * FH * FW];
            for (int p = 0; p < BATCH * FK; p++) {
                for (int y = FTOP / 2; y < (FTOP + FHH) / 2; y++) {
                    for (int x = FLEFT / 2; x < (FLEFT + FWW) / 2; x++) mk[(p * FH + y) * FW + x] = 1;
                }
            }
            mask = empty(dt, BATCH, FK, FH, FW);
            mask.copyFrom(mk);
            ones = empty(dt, BATCH, FK, FH, FW);
            be.fill(ones, 1);
        }

        @TearDown
        public void tearDown() { close(); }

        Tensor composed() {
            Tensor attm = F.mul(att, mask);
            Tensor upLr = F.resizeByFactor(F.mul(F.add(ones, F.scale(attm, -1)), lr), 2);
            return F.add(F.mul(F.resizeByFactor(attm, 2), F.insert(hr, 2 * FH, 2 * FW, FTOP, FLEFT)), upLr);
        }

        void fwdBwd(boolean fused) {
            try (Arena a = Arena.open(); Tape tape = Tape.record()) {
                for (Tensor t : new Tensor[] {lr, att, hr}) t.requiresGrad = true;
                Tensor f = fused ? F.hrdaFuse(lr, att, hr, FTOP, FLEFT) : composed();
                tape.backward(F.sum(F.mul(f, dfused)));
                be.synchronize();
            } finally {
                for (Tensor t : new Tensor[] {lr, att, hr}) {
                    t.grad = null;
                    t.requiresGrad = false;
                }
            }
        }
    }

    // ---- attention ----
    @Benchmark
    public void attentionFused(Attn s) {
        s.be.attention(s.q, s.kv, s.out, s.lse, BATCH, s.n, s.m, s.heads, s.c / s.heads, s.scale);
        s.be.synchronize();
    }

    @Benchmark
    public void attentionUnfused(Attn s) {
        try (Arena a = Arena.open()) {
            F.attentionUnfused(s.q, s.kv, s.heads, s.scale);
            s.be.synchronize();
        }
    }

    @Benchmark
    public void attentionFusedFwdBwd(Attn s) { s.fwdBwd(true); }

    @Benchmark
    public void attentionUnfusedFwdBwd(Attn s) { s.fwdBwd(false); }

    // ---- HRDA fusion ----
    @Benchmark
    public void fusionFused(Fusion s) {
        try (Arena a = Arena.open()) {
            F.hrdaFuse(s.lr, s.att, s.hr, FTOP, FLEFT);
            s.be.synchronize();
        }
    }

    @Benchmark
    public void fusionComposed(Fusion s) {
        try (Arena a = Arena.open()) {
            s.composed();
            s.be.synchronize();
        }
    }

    @Benchmark
    public void fusionFusedFwdBwd(Fusion s) { s.fwdBwd(true); }

    @Benchmark
    public void fusionComposedFwdBwd(Fusion s) { s.fwdBwd(false); }
}
