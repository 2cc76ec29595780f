package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.Checkpoints;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The network's structure (parameter counts, names, shapes) and an end-to-end gradient check. */
class ModelTest {
    static Backend be;

    @BeforeAll static void open() { be = new CpuBackend(); }

    @AfterAll static void close() { be.close(); }

    @Test void parameterCountsMatchTheOriginals() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("hrda_mitb5"), 0)) {
            Map<String, Long> c = m.parameterCounts();
            assertEquals(81.4e6, c.get("backbone"), 0.1e6, "MiT-B5 encoder");
            assertEquals(3.71e6, c.get("decode_head.head"), 0.01e6, "DAFormer head");
            assertEquals(0.53e6, c.get("decode_head.scale_attention"), 0.01e6, "HRDA scale attention head");
            Map<String, Tensor> p = m.namedParameters();
            // a few original names and shapes (mmseg / SegFormer)
            assertArrayEquals(new int[] {64, 3, 7, 7}, p.get("backbone.patch_embed1.proj.weight").shape());
            assertArrayEquals(new int[] {512, 2048}, p.get("backbone.block4.2.mlp.fc2.weight").shape());
            assertArrayEquals(new int[] {320, 320, 2, 2}, p.get("backbone.block3.39.attn.sr.weight").shape());
            assertArrayEquals(new int[] {1280, 1, 3, 3}, p.get("backbone.block3.0.mlp.dwconv.dwconv.weight").shape());
            assertArrayEquals(new int[] {1024, 1, 3, 3},
                              p.get("decode_head.head.fuse_layer.aspp_modules.3.depthwise_conv.conv.weight").shape());
            assertArrayEquals(new int[] {256, 1024, 3, 3}, p.get("decode_head.head.fuse_layer.bottleneck.conv.weight").shape());
            assertArrayEquals(new int[] {256, 1024, 1, 1}, p.get("decode_head.scale_attention.fuse_layer.conv.weight").shape());
            assertArrayEquals(new int[] {19, 256, 1, 1}, p.get("decode_head.scale_attention.conv_seg.weight").shape());
            assertArrayEquals(new int[] {256, 512}, p.get("decode_head.head.embed_layers.3.proj.weight").shape());
            assertTrue(m.namedBuffers().containsKey("decode_head.head.fuse_layer.aspp_modules.0.bn.running_var"));
            assertTrue(!p.containsKey("backbone.block4.0.attn.sr.weight"), "stage 4 has no spatial reduction");
            // a DACS checkpoint's names (model., ema_model.) describe the model they came from
            Map<String, int[]> uda = new java.util.LinkedHashMap<>();
            Checkpoints.shapesOf(m).forEach((k, v) -> {
                uda.put("model." + k, v);
                uda.put("ema_model." + k, v);
            });
            assertEquals("hrda_mitb5", ModelConfig.guess(uda).name());
        }
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("daformer_mitb0"), 0)) {
            assertEquals(3.3e6, m.parameterCounts().get("backbone"), 0.05e6, "MiT-B0 encoder");
            Map<String, int[]> shapes = Checkpoints.shapesOf(m);
            assertEquals("daformer_mitb0", ModelConfig.guess(shapes).name());
            Map<String, int[]> segformer = new java.util.LinkedHashMap<>();  // ImageNet weights: bare encoder names
            shapes.forEach((k, v) -> { if (k.startsWith("backbone.")) segformer.put(k.substring(9), v); });
            assertEquals("daformer_mitb0", ModelConfig.guess(segformer).name());
        }
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 0)) {
            Map<String, int[]> shapes = Checkpoints.shapesOf(m);
            ModelConfig tiny = ModelConfig.guess(shapes);
            assertEquals("tiny_hrda", tiny.name());
            ModelConfig named = ModelConfig.named("tiny_hrda");
            assertEquals(named.numClasses(), tiny.numClasses());
            assertEquals(named.daformerHead().embedDim(), tiny.daformerHead().embedDim());
            assertEquals(named.hrda(), tiny.hrda());
            // without the second stage-1 block the encoder is no known variant: refused, naming what it saw
            shapes.keySet().removeIf(k -> k.startsWith("backbone.block1.1."));
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ModelConfig.guess(shapes));
            assertTrue(e.getMessage().contains("[16, 32, 48, 64]") && e.getMessage().contains("[1, 1, 1, 1]"), e.getMessage());
        }
    }

    @Test void hrdaShapes() {
        try (Segmentor s = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 1); Arena a = Arena.open()) {
            HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
            Tensor img = random(new Random(2), DType.F32, 2, 3, 128, 128);
            var o = m.forwardTrainParts(img, new CropBox(32, 24, 64, 64));
            assertArrayEquals(new int[] {2, 5, 16, 16}, o.lr().shape());
            assertArrayEquals(new int[] {2, 5, 16, 16}, o.hr().shape());
            assertArrayEquals(new int[] {2, 5, 16, 16}, o.att().shape());
            assertArrayEquals(new int[] {2, 5, 32, 32}, o.fused().shape());
            m.train(false);
            assertArrayEquals(new int[] {2, 5, 128, 128}, m.encodeDecode(img).shape());
            assertArrayEquals(new int[] {2, 5, 32, 32}, m.fusedInference(img).shape());
        }
    }

    /**
     * Checkpointing (encoder blocks and heads' ASPP recomputed in the backward pass) leaves every
     * parameter gradient and BatchNorm running statistic bit-identical (no dropout here: the
     * checkpointed model draws its masks from other streams).
     */
    @Test void checkpointingLeavesGradientsUnchanged() {
        MitConfig t = MitConfig.named("mit_tiny");
        MitConfig mit = new MitConfig("tiny_no_drop", t.embedDims(), t.depths(), t.heads(), t.srRatios(), 4, 0.0, 3);
        HeadConfig h = HeadConfig.daformer(mit.embedDims(), 16, 5), att = HeadConfig.attention(mit.embedDims(), 16, 5);
        ModelConfig c = new ModelConfig("tiny_no_drop", mit,
                new HeadConfig(h.inChannels(), h.embedDim(), h.channels(), h.numClasses(), h.fusion(), h.dilations(), 0f),
                new HeadConfig(att.inChannels(), att.embedDim(), att.channels(), att.numClasses(), att.fusion(), att.dilations(), 0f),
                HrdaConfig.defaults().withHrCrop(64), 128, 64);
        Map<String, double[]> plain = trainingStepState(c, false), cp = trainingStepState(c, true);
        assertEquals(plain.keySet(), cp.keySet());
        // The recomputed forward is the same arithmetic, but the backward may sum in another order:
        // allow a few ulps of each tensor's own scale (the key half of kv.bias has an analytically
        // zero gradient, softmax being shift-invariant, and biases before a BatchNorm have one too: their
        // entries are pure round-off, 1e-25..1e-22, hence the absolute floor 1e-18).
        for (String k : plain.keySet()) {
            double[] a = plain.get(k), b = cp.get(k);
            double scale = 0;
            for (double v : a) scale = Math.max(scale, Math.abs(v));
            assertArrayEquals(a, b, 1e-13 * scale + 1e-18, k);
        }
    }

    private static Map<String, double[]> trainingStepState(ModelConfig c, boolean withCp) {
        try (Segmentor s = Segmentor.create(be, DType.F64, c, 4); Arena a = Arena.open(); Tape tape = Tape.record()) {
            HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
            m.mit().useFusedAttention(true);
            m.useCheckpoint(withCp);
            Random r = new Random(7);
            Tensor img = random(r, DType.F64, 2, 3, 128, 128);
            int[] lab = new int[2 * 128 * 128];
            for (int i = 0; i < lab.length; i++) lab[i] = r.nextInt(10) == 0 ? 255 : r.nextInt(5);
            Tensor loss = m.losses(m.forwardTrainParts(img, new CropBox(32, 24, 64, 64)), Tensor.of(be, lab, 2, 128, 128), null).total();
            tape.backward(loss);
            Map<String, double[]> out = new java.util.TreeMap<>();
            m.namedParameters().forEach((k, v) -> out.put(k + ".grad", v.grad.toDoubleArray()));
            m.namedBuffers().forEach((k, v) -> out.put(k, v.toDoubleArray()));
            return out;
        }
    }

    /** mmseg's batched slide test: windows through encode_decode at once, logits averaged where they overlap. */
    @Test void slideTestAveragesBatchedWindows() {
        try (Segmentor s = Segmentor.create(be, DType.F64, ModelConfig.named("tiny_hrda"), 3); Arena a = Arena.open()) {
            s.train(false);
            assertEquals(128, s.config.testCrop());
            assertEquals(64, s.config.testStride());
            Tensor img = random(new Random(5), DType.F64, 1, 3, 128, 256);  // 3 windows: x = 0, 64, 128
            double[] got = s.inference(img).toDoubleArray();
            double[] sum = new double[5 * 128 * 256];
            int[] count = new int[256];
            for (int left : new int[] {0, 64, 128}) {
                double[] win = s.encodeDecode(F.crop(img, 0, left, 128, 128)).toDoubleArray();
                for (int k = 0; k < 5; k++)
                    for (int y = 0; y < 128; y++)
                        for (int x = 0; x < 128; x++) sum[(k * 128 + y) * 256 + left + x] += win[(k * 128 + y) * 128 + x];
                for (int x = 0; x < 128; x++) count[left + x]++;
            }
            for (int i = 0; i < sum.length; i++) sum[i] /= count[i % 256];
            assertArrayEquals(sum, got, 1e-10);
        }
    }

    /** The visualisation switch: attention 0 is the context alone (upsampled), 1 the detail alone. */
    @Test void fixedAttentionSelectsOneScale() {
        for (double fixed : new double[] {0, 1}) {
            ModelConfig c = ModelConfig.hrda("tiny_fixed", MitConfig.named("mit_tiny"), 16, 5,
                                             HrdaConfig.defaults().withHrCrop(64).withFixedAttention(fixed));
            try (Segmentor s = Segmentor.create(be, DType.F64, c, 1); Arena a = Arena.open()) {
                HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
                m.train(false);
                Tensor img = random(new Random(2), DType.F64, 1, 3, 128, 128);
                var o = m.forwardTrainParts(img, new CropBox(32, 24, 64, 64));
                Tensor expected = fixed == 0 ? F.resizeByFactor(o.lr(), 2) : null;
                if (expected != null) assertArrayEquals(expected.toDoubleArray(), o.fused().toDoubleArray(), 1e-12);
                double[] fused = m.fusedInference(img).toDoubleArray();
                if (fixed == 1) {  // no mask at inference: the slide-averaged detail logits everywhere
                    assertArrayEquals(fusedDetail(m, img), fused, 1e-12);
                }
            }
        }
    }

    /** The slide-averaged detail logits of fusedInference, with attention 1 (fused = hr). */
    private static double[] fusedDetail(HrdaEncoderDecoder m, Tensor img) {
        List<CropBox> boxes = CropBox.slide(128, 128, 64, 32);
        Tensor crops = F.catBatch(boxes.stream().map(b -> F.crop(img, b.top(), b.left(), 64, 64)).toList());
        Tensor logits = m.decodeHead.head.forward(m.backbone.forward(crops));
        double[] l = logits.toDoubleArray(), sum = new double[5 * 32 * 32];
        int[] count = new int[32 * 32];
        for (int i = 0; i < boxes.size(); i++) {
            int top = boxes.get(i).top() / 4, left = boxes.get(i).left() / 4;
            for (int k = 0; k < 5; k++)
                for (int y = 0; y < 16; y++)
                    for (int x = 0; x < 16; x++) {
                        sum[(k * 32 + top + y) * 32 + left + x] += l[((i * 5 + k) * 16 + y) * 16 + x];
                        if (k == 0) count[(top + y) * 32 + left + x]++;
                    }
        }
        for (int p = 0; p < sum.length; p++) sum[p] /= count[p % (32 * 32)];
        return sum;
    }

    @Test void cropBoxesFollowTheOriginal() {
        // get_crop_bbox: offsets are multiples of 8 in [0, 504] for a 512 crop of 1024
        Random r = new Random(3);
        int max = 0;
        for (int i = 0; i < 2000; i++) {
            CropBox b = CropBox.random(1024, 1024, 512, 8, r);
            assertEquals(0, b.top() % 8);
            assertEquals(0, b.left() % 8);
            max = Math.max(max, Math.max(b.top(), b.left()));
        }
        assertEquals(504, max);
        // mmseg slide: 2048x1024 with 1024 windows, stride 512 -> 1 x 3 windows
        List<CropBox> w = CropBox.slide(1024, 2048, 1024, 512);
        assertEquals(List.of(new CropBox(0, 0, 1024, 1024), new CropBox(0, 512, 1024, 1024), new CropBox(0, 1024, 1024, 1024)), w);
        assertEquals(9, CropBox.slide(1024, 1024, 512, 256).size());
    }

    /**
     * The whole training loss of a tiny HRDA (MiT + DAFormer head + scale attention + fusion +
     * both CE terms, dropout and drop path on, BN in training mode) against central differences
     * in f64, probing parameters of every part and the input image; also with the encoder's
     * blocks checkpointed (recomputed in the backward pass, dropout masks replayed).
     */
    @ParameterizedTest(name = "with_cp {0}")
    @ValueSource(booleans = {false, true})
    void hrdaTrainingLossGradientMatchesFiniteDifferences(boolean withCp) {
        try (Segmentor s = Segmentor.create(be, DType.F64, ModelConfig.named("tiny_hrda"), 4)) {
            HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
            m.mit().useFusedAttention(true);  // the CUDA default; the unfused path is checked op by op
            m.useCheckpoint(withCp);
            Random r = new Random(7);
            Tensor img = Arena.persistent(() -> random(r, DType.F64, 2, 3, 128, 128));
            int[] lab = new int[2 * 128 * 128];
            for (int i = 0; i < lab.length; i++) lab[i] = r.nextInt(10) == 0 ? 255 : r.nextInt(5);
            Tensor label = Arena.persistent(() -> Tensor.of(be, lab, 2, 128, 128));
            img.requiresGrad = true;
            CropBox box = new CropBox(32, 24, 64, 64);
            DoubleSupplier lossFn = () -> {
                try (Arena a = Arena.open()) {
                    F.seed(11);
                    return m.losses(m.forwardTrainParts(img, box), label, null).total().item();
                }
            };
            try {
                double loss0;
                try (Arena a = Arena.open(); Tape tape = Tape.record()) {
                    F.seed(11);
                    Tensor loss = m.losses(m.forwardTrainParts(img, box), label, null).total();
                    loss0 = loss.item();
                    tape.backward(loss);
                    double[] gi = img.grad.toDoubleArray();
                    probe("image", img, gi, lossFn, r);
                    img.grad = null;  // arena-owned, freed with it
                }
                assertTrue(loss0 > 0 && Double.isFinite(loss0));
                Map<String, Tensor> p = m.namedParameters();
                for (String name : List.of("backbone.patch_embed1.proj.weight", "backbone.block1.0.attn.q.weight",
                                           "backbone.block1.1.attn.kv.bias", "backbone.block1.0.attn.sr.weight",
                                           "backbone.block2.0.attn.norm.weight", "backbone.block4.0.mlp.dwconv.dwconv.weight",
                                           "backbone.block3.0.mlp.fc1.weight", "backbone.norm4.bias",
                                           "decode_head.head.embed_layers.2.proj.weight",
                                           "decode_head.head.fuse_layer.aspp_modules.1.depthwise_conv.conv.weight",
                                           "decode_head.head.fuse_layer.aspp_modules.0.bn.weight",
                                           "decode_head.head.fuse_layer.bottleneck.conv.weight", "decode_head.head.conv_seg.bias",
                                           "decode_head.scale_attention.fuse_layer.conv.weight",
                                           "decode_head.scale_attention.conv_seg.weight")) {
                    Tensor t = p.get(name);
                    if (t == null) fail("no parameter " + name);
                    probe(name, t, t.grad.toDoubleArray(), lossFn, r);
                }
            } finally {
                img.close();
                label.close();
            }
        }
    }

    /**
     * Compares 3 random elements of x's analytic gradient with central differences of
     * {@code loss}. A probe whose two one-sided differences disagree sits on a kink (a ReLU
     * input crossing zero within ±h somewhere in the network): the central difference means
     * nothing there, so it is redrawn (at most 10 times).
     */
    private static void probe(String what, Tensor x, double[] analytic, DoubleSupplier loss, Random r) {
        double[] v = x.toDoubleArray();
        double h = GradCheck.H, l0 = loss.getAsDouble();
        int accepted = 0;
        for (int attempt = 0; accepted < 3; attempt++) {
            if (attempt == 10) fail(what + ": every probe sits on a kink");
            int i = r.nextInt(v.length);
            double orig = v[i];
            v[i] = orig + h;
            x.copyFrom(v);
            double lp = loss.getAsDouble();
            v[i] = orig - h;
            x.copyFrom(v);
            double lm = loss.getAsDouble();
            v[i] = orig;
            x.copyFrom(v);
            // GradCheck's bound; its last term covers the loss's own round-off (a sum over ~10^5 pixels) over 2h
            double numeric = (lp - lm) / (2 * h);
            double tol = GradCheck.ATOL + GradCheck.RTOL * Math.abs(numeric) + 1e-9 * Math.max(Math.abs(l0), 1);
            if (Math.abs((lp - l0) / h - (l0 - lm) / h) > 100 * tol) continue;  // kink
            accepted++;
            double err = Math.abs(numeric - analytic[i]);
            if (err > tol) fail(String.format("%s[%d]: analytic %.10g vs numeric %.10g", what, i, analytic[i], numeric));
        }
    }

    static Tensor random(Random r, DType dtype, int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        double[] a = new double[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian();
        Tensor t = Tensor.empty(be, dtype, shape);
        t.copyFrom(a);
        return t;
    }
}
