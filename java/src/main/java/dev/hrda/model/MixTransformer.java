package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Conv2d;
import dev.hrda.nn.Init;
import dev.hrda.nn.LayerNorm;
import dev.hrda.nn.Linear;
import dev.hrda.nn.Module;
import dev.hrda.nn.ModuleList;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The MiT encoder (SegFormer, as vendored by mmseg/DAFormer/HRDA): four stages of an overlapping
 * patch embedding followed by transformer blocks with efficient (spatially reduced) self-attention
 * and a Mix-FFN. Returns NCHW maps at strides 4, 8, 16, 32. Parameter names follow the original
 * (patch_embed1.proj.weight, block1.0.attn.q.weight, norm1.weight, …).
 */
public final class MixTransformer extends Backbone {
    public final MitConfig config;
    private final List<PatchEmbed> patchEmbeds = new ArrayList<>();
    private final List<ModuleList<Block>> stages = new ArrayList<>();
    private final List<LayerNorm> norms = new ArrayList<>();
    private boolean withCp;

    public MixTransformer(Backend backend, DType dtype, MitConfig c, Random r) {
        super(backend, dtype);
        this.config = c;
        int total = c.totalDepth(), cur = 0, in = c.inChannels();
        for (int i = 0; i < 4; i++) {
            int k = i == 0 ? 7 : 3, s = i == 0 ? 4 : 2;
            patchEmbeds.add(child("patch_embed" + (i + 1), new PatchEmbed(backend, dtype, in, c.embedDims()[i], k, s, r)));
            in = c.embedDims()[i];
        }
        for (int i = 0; i < 4; i++) {
            ModuleList<Block> blocks = child("block" + (i + 1), new ModuleList<>(backend, dtype));
            for (int j = 0; j < c.depths()[i]; j++, cur++) {
                // torch.linspace(0, rate, total)[cur]
                double dp = total > 1 ? c.dropPathRate() * cur / (total - 1) : 0;
                blocks.add(new Block(backend, dtype, c.embedDims()[i], c.heads()[i], c.srRatios()[i], c.mlpRatio(), (float) dp, r));
            }
            stages.add(blocks);
            norms.add(child("norm" + (i + 1), new LayerNorm(backend, dtype, c.embedDims()[i], 1e-6f)));
        }
        // the fused kernel saves memory on the GPU; on the CPU, OpenBLAS GEMMs are faster (AttentionBench)
        useFusedAttention(backend.device() == Device.CUDA);
    }

    /**
     * mmseg's with_cp: keep only each block's input and recompute the block in the backward
     * pass (about one more encoder forward per step for a fraction of the activation memory).
     */
    @Override
    public void useCheckpoint(boolean on) {
        withCp = on;
    }

    /** The fused attention kernel (default on CUDA) or the GEMM-softmax-GEMM path PyTorch takes (default on the CPU). */
    public void useFusedAttention(boolean on) {
        for (ModuleList<Block> blocks : stages) for (Block b : blocks) b.attn.fused = on;
    }

    /** x [B, 3, H, W] -> four maps [B, C_i, H/2^(i+2), W/2^(i+2)]. */
    @Override
    public List<Tensor> forward(Tensor x) {
        List<Tensor> outs = new ArrayList<>(4);
        for (int i = 0; i < 4; i++) {
            try (Scope s = Scope.open()) {
                // inference frees each intermediate after its last reader (Scope.done); training keeps what the tape reads
                Tensor map = patchEmbeds.get(i).proj.forward(x);
                int h = map.dim(2), w = map.dim(3);
                Tensor tokens = F.toTokens(map);
                Scope.done(map);
                Tensor t = patchEmbeds.get(i).norm.forward(tokens);
                Scope.done(tokens);
                for (Block b : stages.get(i)) {
                    boolean drop = isStochastic();
                    Tensor in = t;
                    t = withCp ? F.checkpoint(z -> b.forward(z, h, w, drop), in) : b.forward(in, h, w, drop);
                    if (t != in) Scope.done(in);
                }
                Tensor normed = norms.get(i).forward(t);
                Scope.done(t);
                x = s.keep(F.toMap(normed, h, w));
                Scope.done(normed);
            }
            outs.add(x);
        }
        return outs;
    }

    /** A convolution of the h×w token map: tokens -> map -> conv -> tokens, the map and the conv's output freed in inference. */
    static Tensor convOnTokens(Conv2d conv, Tensor tokens, int h, int w) {
        Tensor map = F.toMap(tokens, h, w);
        Tensor y = conv.forward(map);
        Scope.done(map);
        Tensor out = F.toTokens(y);
        Scope.done(y);
        return out;
    }

    /** MiT's _init_weights: Linear trunc-normal(0.02)/0, LayerNorm 1/0, Conv N(0, 2/fan_out)/0. */
    static Conv2d mitConv(Backend be, DType dt, int in, int out, int k, int stride, int pad, int groups, Random r) {
        Conv2d conv = new Conv2d(be, dt, in, out, k, stride, pad, 1, groups, true, r);
        conv.weight.copyFrom(Init.normal(conv.weight.numel(), Math.sqrt(2.0 / ((long) k * k * out / groups)), r));
        be.fill(conv.bias, 0);
        return conv;
    }

    /** OverlapPatchEmbed: conv (k, stride, k/2 padding) then LayerNorm (default eps 1e-5). */
    static final class PatchEmbed extends Module {
        final Conv2d proj;
        final LayerNorm norm;

        PatchEmbed(Backend be, DType dt, int in, int out, int k, int stride, Random r) {
            super(be, dt);
            proj = child("proj", mitConv(be, dt, in, out, k, stride, k / 2, 1, r));
            norm = child("norm", new LayerNorm(be, dt, out, 1e-5f));
        }
    }

    /** Pre-norm transformer block: x + DropPath(Attn(LN(x))), then x + DropPath(MixFFN(LN(x))). */
    static final class Block extends Module {
        final LayerNorm norm1, norm2;
        final EfficientAttention attn;
        final MixFfn mlp;
        final float dropPath;

        Block(Backend be, DType dt, int dim, int heads, int sr, int mlpRatio, float dropPath, Random r) {
            super(be, dt);
            norm1 = child("norm1", new LayerNorm(be, dt, dim, 1e-6f));
            attn = child("attn", new EfficientAttention(be, dt, dim, heads, sr, r));
            norm2 = child("norm2", new LayerNorm(be, dt, dim, 1e-6f));
            mlp = child("mlp", new MixFfn(be, dt, dim, dim * mlpRatio, r));
            this.dropPath = dropPath;
        }

        Tensor forward(Tensor x, int h, int w, boolean training) {
            try (Scope s = Scope.open()) {  // frees what the backward does not read as soon as the block returns
                Tensor n1 = norm1.forward(x);
                Tensor a = attn.forward(n1, h, w);
                Scope.done(n1);
                Tensor mid = residual(x, a, training);
                Tensor n2 = norm2.forward(mid);
                Tensor m = mlp.forward(n2, h, w);
                Scope.done(n2);
                Tensor out = residual(mid, m, training);
                Scope.done(mid);
                return s.keep(out);
            }
        }

        /** x + DropPath(branch); in inference the branch is freed at once. */
        private Tensor residual(Tensor x, Tensor branch, boolean training) {
            Tensor dropped = F.dropPath(branch, dropPath, training);
            Tensor y = F.add(x, dropped);
            Scope.done(dropped);
            if (dropped != branch) Scope.done(branch);
            return y;
        }
    }

    /**
     * Multi-head attention whose keys/values come from a spatially reduced map (conv k = s = sr,
     * then LayerNorm eps 1e-5): N queries attend to N/sr² keys. Scale head_dim^-0.5, qkv bias.
     */
    static final class EfficientAttention extends Module {
        final Linear q, kv, proj;
        final Conv2d sr;
        final LayerNorm norm;
        final int heads, srRatio;
        final float scale;
        boolean fused = true;

        EfficientAttention(Backend be, DType dt, int dim, int heads, int srRatio, Random r) {
            super(be, dt);
            this.heads = heads;
            this.srRatio = srRatio;
            this.scale = (float) Math.pow(dim / heads, -0.5);
            q = child("q", new Linear(be, dt, dim, dim, true, r));
            kv = child("kv", new Linear(be, dt, dim, 2 * dim, true, r));
            proj = child("proj", new Linear(be, dt, dim, dim, true, r));
            sr = srRatio > 1 ? child("sr", mitConv(be, dt, dim, dim, srRatio, srRatio, 0, 1, r)) : null;
            norm = srRatio > 1 ? child("norm", new LayerNorm(be, dt, dim, 1e-5f)) : null;
        }

        Tensor forward(Tensor x, int h, int w) {
            Tensor query = q.forward(x);
            Tensor keysValues;
            if (sr == null) {
                keysValues = kv.forward(x);
            } else {
                Tensor tokens = convOnTokens(sr, x, h, w);
                Tensor reduced = norm.forward(tokens);
                Scope.done(tokens);
                keysValues = kv.forward(reduced);
                Scope.done(reduced);
            }
            Tensor o = fused ? F.attention(query, keysValues, heads, scale)
                                             : F.attentionUnfused(query, keysValues, heads, scale);
            Scope.done(query);
            Scope.done(keysValues);
            Tensor y = proj.forward(o);
            Scope.done(o);
            return y;
        }
    }

    /** Mix-FFN: fc1, 3×3 depthwise conv on the token map (bias), GELU, fc2. */
    static final class MixFfn extends Module {
        final Linear fc1, fc2;
        final DwConv dwconv;

        MixFfn(Backend be, DType dt, int dim, int hidden, Random r) {
            super(be, dt);
            fc1 = child("fc1", new Linear(be, dt, dim, hidden, true, r));
            dwconv = child("dwconv", new DwConv(be, dt, hidden, r));
            fc2 = child("fc2", new Linear(be, dt, hidden, dim, true, r));
        }

        /**
         * Training keeps only the depthwise convolution's input of the three hidden-width
         * activations: its output (GELU's input) and GELU's output (fc2's input) are recomputed in
         * the backward pass ({@link F#recomputable}), a depthwise convolution and a GELU against
         * the two hidden-width GEMMs around them.
         */
        Tensor forward(Tensor x, int h, int w) {
            Tensor hidden = fc1.forward(x);
            Tensor map = F.toMap(hidden, h, w);
            Scope.done(hidden);
            Tensor tokens = F.recomputable(m -> {
                Tensor y = dwconv.conv.forward(m);
                return Scope.replaced(y, F.toTokens(y));
            }, map);
            Scope.done(map);
            Tensor act = F.recomputable(F::gelu, tokens);
            Scope.done(tokens);
            Tensor y = fc2.forward(act);
            Scope.done(act);
            return y;
        }
    }

    /** SegFormer's DWConv wrapper, kept for its key "dwconv.dwconv.weight". */
    static final class DwConv extends Module {
        final Conv2d conv;

        DwConv(Backend be, DType dt, int dim, Random r) {
            super(be, dt);
            conv = child("dwconv", mitConv(be, dt, dim, dim, 3, 1, 1, dim, r));
        }
    }
}
