package dev.hrda.ripu;

import dev.hrda.active.Budget;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Batch;
import dev.hrda.data.Sample;
import dev.hrda.data.UdaBatch;
import dev.hrda.io.Checkpoints;
import dev.hrda.model.EncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.optim.Sgd;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GoldenFile;
import dev.hrda.uda.Dacs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.hrda.testing.GoldenFile.assertClose;
import static dev.hrda.testing.GoldenFile.minus;
import static dev.hrda.testing.GoldenFile.num;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The golden RIPU iteration: two consecutive {@link RipuStep}s with SGD (momentum, weight decay,
 * the decode head at 10x lr, poly factor) against an independent PyTorch implementation of RIPU's
 * train.py iteration (tools/golden/ripu_iteration.py, which regenerates the fixtures), on the tiny
 * DeepLab-v2 and DeepLab-v3+ (its decoder's Dropout2d on, with the engine's seeds) and the
 * source-free variant (whose first iteration has no labelled target pixel, so the target CE term
 * is skipped): every loss term, every parameter gradient, the updated parameters, the update
 * itself (f64) and the momentum buffers. f64 to 1e-6 relative, f32 to 1e-4 or twice PyTorch's own
 * float32 error on the same iterations where that is larger. Per tensor: max |diff| / max |ref|.
 */
class RipuIterationGoldenTest {
    private static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    @ParameterizedTest(name = "{0} in {1}")
    @CsvSource({"deeplabv2_ra, F64", "deeplabv2_ra, F32", "deeplabv3plus_ra, F64", "deeplabv3plus_ra, F32", "deeplabv2_sf, F64", "deeplabv2_sf, F32"})
    void matchesThePyTorchIteration(String fixture, String dtypeName) {
        GoldenFile g = new GoldenFile(be, Path.of("src/test/resources/golden/ripu_iteration/" + fixture + ".safetensors"));
        Map<?, ?> c = (Map<?, ?>) g.json("config");
        DType dtype = DType.valueOf(dtypeName);
        double tol = dtype == DType.F64 ? 1e-6 : 1e-4;
        boolean sourceFree = Boolean.TRUE.equals(c.get("source_free"));
        try (Segmentor model = Segmentor.create(be, dtype, ModelConfig.named((String) c.get("model")), 1)) {
            g.load("init.", Checkpoints.stateOf(model));
            Map<String, Tensor> params = model.namedParameters();
            double lr = num(c, "lr");
            List<AdamW.Rule> rules = List.of(new AdamW.Rule("head", (float) num(c, "head_lr_mult"), 1f));
            try (Sgd sgd = new Sgd(be, params, lr, num(c, "momentum"), 0, num(c, "weight_decay"), false, rules)) {
                RipuSettings s = new RipuSettings(Budget.parse("2.2%"), new int[] {0}, 1, num(c, "lcr_weight"), num(c, "nl_weight"),
                                                  num(c, "tau"), 1280, 640, sourceFree);
                RipuStep step = new RipuStep((EncoderDecoder) model, optimizer(sgd), PolySchedule.poly((int) num(c, "max_iters"), num(c, "power")), s);
                Map<String, double[]> ref = new LinkedHashMap<>();  // PyTorch's parameters before the iteration
                for (String n : params.keySet()) ref.put(n, g.values("init." + n));
                for (int k = 0; k < (int) num(c, "iterations"); k++) {
                    String p = "iter" + k + ".", at = fixture + " " + dtype + " iteration " + k + ": ";
                    Map<?, ?> draws = (Map<?, ?>) g.json(p + "draws"), torch32 = (Map<?, ?>) g.json(p + "torch_f32_error");
                    Map<?, ?> counts = (Map<?, ?>) g.json(p + "counts");
                    Map<String, double[]> before = new LinkedHashMap<>();
                    params.forEach((n, v) -> before.put(n, v.toDoubleArray()));
                    Dacs.Result r;
                    try (UdaBatch batch = batch(g, p)) {
                        r = step.step(k, batch, ((Number) draws.get("dropout_seed")).longValue());
                    }
                    assertEquals(num(draws, "lr_factor"), r.lr() / lr, 1e-15, at + "lr factor");
                    // the loss terms, weighted as logged; a term the reference skipped is not logged either
                    double tolLoss = bound(dtype, tol, torch32, "loss");
                    for (String key : g.tensors.keySet()) {
                        if (!key.startsWith(p + "loss.")) continue;
                        String term = key.substring((p + "loss.").length());
                        Double got = r.log().get(term);
                        if (got == null) fail(at + "no logged term " + term + " in " + r.log().keySet());
                        assertClose(at + term, g.values(key), new double[] {got}, tolLoss, false);
                    }
                    for (String term : r.log().keySet()) {
                        if (term.contains("loss")) assertTrue(g.has(p + "loss." + term), at + "logged " + term + ", which the reference does not have");
                    }
                    long tgtPixels = 1;
                    for (int d : g.tensor(p + "input.tgt_label").shape()) tgtPixels *= d;
                    assertEquals(num(counts, "tgt_labelled") / tgtPixels, r.log().get("tgt.labelled"), 1e-15, at + "labelled target share");
                    // gradients, the updated parameters, the update itself (f64) and the momentum buffers
                    double tolGrad = bound(dtype, tol, torch32, "grad"), tolAfter = bound(dtype, tol, torch32, "after");
                    double tolMomentum = bound(dtype, tol, torch32, "momentum");
                    for (var e : params.entrySet()) {
                        String n = e.getKey();
                        assertClose(at + "gradient " + n, g.values(p + "grad." + n), e.getValue().grad.toDoubleArray(), tolGrad, false);
                        double[] update = g.values(p + "update." + n), want = plus(ref.get(n), update), got = e.getValue().toDoubleArray();
                        assertClose(at + "updated " + n, want, got, tolAfter, false);
                        if (dtype == DType.F64) assertClose(at + "update of " + n, update, minus(got, before.get(n)), tol, false);
                        ref.put(n, want);
                    }
                    List<String> names = sgd.names();
                    List<Tensor> buffers = sgd.momentumBuffers();
                    for (int i = 0; i < names.size(); i++) {
                        String n = names.get(i);
                        double rate = sgd.lrOf(n, num(draws, "lr_factor"));
                        double[] update = g.values(p + "update." + n), want = new double[update.length];
                        for (int j = 0; j < want.length; j++) want[j] = -update[j] / rate;
                        assertClose(at + "momentum buffer of " + n, want, buffers.get(i).toDoubleArray(), tolMomentum, false);
                    }
                }
            }
        }
    }

    private static RipuStep.Optimizer optimizer(Sgd sgd) {
        return new RipuStep.Optimizer() {
            @Override public void zeroGrad() { sgd.zeroGrad(); }

            @Override public void step(double lrFactor) { sgd.step(lrFactor); }

            @Override public double baseLr() { return sgd.baseLr; }
        };
    }

    /** The fixture's source and target batches of an iteration (target labels: the acquired pixels, 255 elsewhere). */
    private static UdaBatch batch(GoldenFile g, String p) {
        return new UdaBatch(domain(g, p + "input.src_img", p + "input.src_label", "src"),
                            domain(g, p + "input.tgt_img", p + "input.tgt_label", "tgt"));
    }

    private static Batch domain(GoldenFile g, String imageKey, String labelKey, String name) {
        int[] shape = g.tensor(imageKey).shape();
        int n = shape[0], h = shape[2], w = shape[3], plane = h * w;
        double[] img = g.values(imageKey);
        int[] lbl = g.ints(labelKey);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] im = new float[3 * plane];
            for (int j = 0; j < im.length; j++) im[j] = (float) img[i * 3 * plane + j];
            byte[] l = new byte[plane];
            for (int j = 0; j < plane; j++) l[j] = (byte) lbl[i * plane + j];
            out.add(new Sample(im, h, w, l, h, w, null, name + i, false, 0, 0));
        }
        return Batch.of(out, false);
    }

    /** f64: the tolerance; f32: the larger of it and twice PyTorch's own float32 error there. */
    private static double bound(DType d, double tol, Map<?, ?> torch32, String group) {
        return d == DType.F64 ? tol : Math.max(tol, 2 * num(torch32, group));
    }

    private static double[] plus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
        return out;
    }

}
