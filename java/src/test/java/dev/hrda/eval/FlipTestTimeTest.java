package dev.hrda.eval;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.LeakCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Test-time flip averaging (RIPU's test.py, mmseg's flip aug): the classes are the arg-max of
 * softmax(image) + mirror(softmax(mirrored image)), computed here at the output size on the host
 * in f64; the predictor mirrors at the logits' resolution before the resize, which agrees.
 */
@ExtendWith(LeakCheck.class)
class FlipTestTimeTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    @ParameterizedTest
    @ValueSource(strings = {"tiny_deeplabv2", "tiny_daformer"})
    void flipAveragingIsTheMeanOfBothSoftmaxOutputs(String name) {
        int h = 77, w = 93, oh = 90, ow = 111;
        try (Segmentor m = Segmentor.create(be, DType.F64, ModelConfig.named(name), 5); Arena a = Arena.open()) {
            m.train(false);
            Random r = new Random(9);
            float[] chw = new float[3 * h * w];
            for (int i = 0; i < chw.length; i++) chw[i] = (float) r.nextGaussian();
            Predictor p = new Predictor(m, w, h, true);
            byte[] got = p.classify(chw, h, w, oh, ow);

            double[] p1 = probs(m, chw, h, w, oh, ow), p2 = probs(m, Predictor.mirror(chw, h, w), h, w, oh, ow);
            int k = m.config.numClasses();
            byte[] want = new byte[oh * ow];
            int differ = 0;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    int best = 0;
                    double bv = -1;
                    for (int c = 0; c < k; c++) {
                        double v = p1[(c * oh + y) * ow + x] + p2[(c * oh + y) * ow + (ow - 1 - x)];
                        if (v > bv) { bv = v; best = c; }
                    }
                    want[y * ow + x] = (byte) best;
                }
            assertArrayEquals(want, got, name);
            byte[] plain = new Predictor(m, w, h, false).classify(chw, h, w, oh, ow);
            for (int i = 0; i < plain.length; i++) if (plain[i] != got[i]) differ++;
            assertTrue(differ > 0, "flip averaging changed no pixel: the test would not see it missing");
        }
    }

    /** softmax of the model's logits resized to oh x ow with its rule, [K, oh, ow] row-major. */
    private static double[] probs(Segmentor m, float[] chw, int h, int w, int oh, int ow) {
        Tensor img = Tensor.empty(be, DType.F64, 1, 3, h, w);
        img.copyFrom(chw);
        Tensor logits = m.inference(img);
        Tensor up = m.alignCorners() ? F.resizeAligned(logits, oh, ow) : F.resize(logits, oh, ow);
        return F.softmax(up, 1).toDoubleArray();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 6, 13})
    void flipWMirrorsExactly(int w) {
        try (Arena a = Arena.open()) {
            Random r = new Random(w);
            double[] v = new double[2 * 3 * 5 * w];
            for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
            Tensor x = Tensor.of(be, v, 2, 3, 5, w);
            double[] y = F.flipW(x).toDoubleArray();
            for (int row = 0; row < v.length / w; row++)
                for (int c = 0; c < w; c++) assertEquals(v[row * w + w - 1 - c], y[row * w + c], 0.0);
        }
    }
}
