package dev.hrda.active;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Json;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * RIPU acquisition and selection against the float64 torch reference of the official algorithms
 * (tools/ripu_reference.py, which regenerates golden/ripu/acquisition.safetensors): random softmax
 * maps of odd sizes (37x53, 19x29, 29x37), K = 19 and 5, RA k = 1 and 2, PA K = 2 and 3, maps with
 * exact ties (periodic patterns, tied arg-max classes, one-hot blocks), integer-valued score maps
 * for the pick order, several rounds with persisted masks, rounds that run out of candidates.
 * f64: scores to 1e-10, the same picks in the same order, the same masks and label masks. f32: scores
 * to 2e-6 relative (entropies rounded to f32), and still the same picks.
 */
class RipuGoldenTest {
    private static final Path FIXTURE = Path.of("src/test/resources/golden/ripu/acquisition.safetensors");
    private static Backend be;
    private static Map<String, StoredTensor> tensors;
    private static List<Map<?, ?>> cases;

    @BeforeAll
    static void load() {
        be = new CpuBackend();
        TensorFile f = TensorFile.read(FIXTURE);
        tensors = f.tensors();
        cases = new ArrayList<>();
        for (Object c : (List<?>) Json.parse(f.metadata().get("cases"))) cases.add((Map<?, ?>) c);
    }

    @AfterAll
    static void close() {
        be.close();
    }

    static Stream<Arguments> scoreCases() {
        return Stream.of("ra_k1_c19", "ra_k2_c5", "pa_r3_c19", "pa_r3_c5", "ra_ties_c5", "pa_ties_c5")
                     .flatMap(n -> Stream.of(Arguments.of(n, DType.F64), Arguments.of(n, DType.F32)));
    }

    static Stream<Arguments> selectCases() {
        return Stream.of("sel_ra_ties", "sel_pa_ties")
                     .flatMap(n -> Stream.of(Arguments.of(n, DType.F64), Arguments.of(n, DType.F32)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("scoreCases")
    void scoresPicksAndMasksMatchTheReference(String name, DType dtype) {
        Map<?, ?> c = spec(name);
        int b = num(c, "B"), k = num(c, "K"), h = num(c, "H"), w = num(c, "W"), r = num(c, "radius");
        int rounds = num(c, "rounds"), count = num(c, "count");
        boolean pixel = c.get("mode").equals("PA");
        RegionSelector sel = pixel ? RegionSelector.pixels(r) : RegionSelector.regions(r);
        assertEquals(num(c, "active_r"), sel.activeRadius());
        assertEquals(num(c, "mask_r"), sel.maskRadius());
        double tol = dtype == DType.F64 ? 1e-10 : 2e-6;
        try (Tensor active = Tensor.ofBytes(be, new byte[b * h * w], b, h, w);
             Tensor selected = Tensor.ofBytes(be, new byte[b * h * w], b, h, w);
             Tensor gt = ints(name + ".gt", b, h, w)) {
            for (int rd = 0; rd < rounds; rd++) {
                String p = name + ".round" + rd + ".";
                long before = count(selected);
                RegionSelector.Picks picks;
                try (Tensor prob = load(p + "prob", dtype);
                     Tensor score = poisoned(dtype, b, h, w);
                     Tensor imp = poisoned(dtype, b, h, w);
                     Tensor unc = poisoned(dtype, b, h, w)) {
                    be.activeScore(prob, score, imp, unc, b, k, h, w, r, pixel, pixel ? 1.0 : Acquisition.RA_NORM);
                    assertClose(p + "score", values(p + "score"), score.toDoubleArray(), tol);
                    if (rd == 0) {
                        assertClose(p + "impurity", values(p + "impurity"), imp.toDoubleArray(), tol);
                        assertClose(p + "uncertainty", values(p + "uncertainty"), unc.toDoubleArray(), tol);
                    }
                    try (Acquisition.Scores api = Acquisition.scores(be, prob, pixel ? Acquisition.Mode.PIXEL : Acquisition.Mode.REGION, r, false)) {
                        assertArrayEquals(score.toDoubleArray(), api.score().toDoubleArray(), p + "Acquisition = the op");
                    }
                    picks = sel.select(be, score, active, selected, count);
                }
                int[] ref = ints(p + "picks");
                double[] refScore = values(p + "pick_score");
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < count; j++) {
                        int at = i * count + j;
                        String where = p + " image " + i + " pick " + j;
                        assertEquals(ref[2 * at], picks.h()[i][j], where + " h");
                        assertEquals(ref[2 * at + 1], picks.w()[i][j], where + " w");
                        assertEquals(refScore[at], picks.score()[i][j], tol * Math.max(1, Math.abs(refScore[at])), where + " score");
                    }
                assertArrayEquals(bytes(p + "active_after"), active.toByteArray(), p + "active mask");
                assertArrayEquals(bytes(p + "selected_after"), selected.toByteArray(), p + "selected mask");
                // the budget: every pick adds its whole (clipped) square, none overlaps an earlier one
                long paid = 0;
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < count; j++) paid += clipped(picks.h()[i][j], h, sel.activeRadius()) * clipped(picks.w()[i][j], w, sel.activeRadius());
                assertEquals(before + paid, count(selected), p + "selected pixels = picks x clipped square");
                try (Tensor mask = RegionSelector.reveal(be, selected, gt, 255)) {
                    int[] want = ints(p + "label_mask");
                    assertArrayEquals(want, mask.toIntArray(), p + "label mask");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("selectCases")
    void pickOrderOnTiedScoresMatchesTheOfficialLoop(String name, DType dtype) {
        Map<?, ?> c = spec(name);
        int h = num(c, "H"), w = num(c, "W"), rounds = num(c, "rounds"), count = num(c, "count");
        RegionSelector sel = new RegionSelector(num(c, "active_r"), num(c, "mask_r"));
        try (Tensor active = Tensor.ofBytes(be, bytes(name + ".round0.active_before"), h, w);
             Tensor selected = Tensor.ofBytes(be, new byte[h * w], h, w)) {
            boolean exhausted = false;
            for (int rd = 0; rd < rounds; rd++) {
                String p = name + ".round" + rd + ".";
                try (Tensor score = load(p + "score", dtype)) {
                    RegionSelector.Picks picks = sel.select(be, score, active, selected, count);
                    int[] ref = ints(p + "picks");
                    double[] refScore = values(p + "pick_score");
                    for (int j = 0; j < count; j++) {
                        assertEquals(ref[2 * j], picks.h()[0][j], p + "pick " + j + " h");
                        assertEquals(ref[2 * j + 1], picks.w()[0][j], p + "pick " + j + " w");
                        assertEquals(refScore[j], picks.score()[0][j], p + "pick " + j + " score");
                        exhausted |= refScore[j] == Double.NEGATIVE_INFINITY;
                    }
                    assertArrayEquals(values(p + "score_after"), score.toDoubleArray(), p + "consumed score");
                }
                assertArrayEquals(bytes(p + "active_after"), active.toByteArray(), p + "active mask");
                assertArrayEquals(bytes(p + "selected_after"), selected.toByteArray(), p + "selected mask");
            }
            assertTrue(exhausted, "the fixture has a round that runs out of candidates");
        }
    }

    // ---- helpers ----
    private static Map<?, ?> spec(String name) {
        for (Map<?, ?> c : cases) if (c.get("name").equals(name)) return c;
        return fail("fixture has no case " + name);
    }

    private static int num(Map<?, ?> c, String key) { return ((Number) c.get(key)).intValue(); }

    private static StoredTensor stored(String key) {
        StoredTensor t = tensors.get(key);
        if (t == null) fail("fixture has no " + key);
        return t;
    }

    static Tensor load(String key, DType dtype) {
        StoredTensor s = stored(key);
        Tensor t = Tensor.empty(be, dtype, s.shape());
        t.copyFrom(s.toDoubleArray());
        return t;
    }

    private static double[] values(String key) { return stored(key).toDoubleArray(); }

    private static int[] ints(String key) { return Arrays.stream(stored(key).toLongArray()).mapToInt(x -> (int) x).toArray(); }

    private static Tensor ints(String key, int... shape) { return Tensor.of(be, ints(key), shape); }

    private static byte[] bytes(String key) {
        long[] v = stored(key).toLongArray();
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    static Tensor poisoned(DType d, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        double[] nan = new double[Math.toIntExact(t.numel())];
        Arrays.fill(nan, Double.NaN);
        t.copyFrom(nan);
        return t;
    }

    private static long count(Tensor mask) {
        long n = 0;
        for (byte x : mask.toByteArray()) n += x;
        return n;
    }

    private static long clipped(int c, int n, int r) { return Math.min(c + r, n - 1) - Math.max(c - r, 0) + 1; }

    static void assertClose(String what, double[] want, double[] got, double tol) {
        assertEquals(want.length, got.length, what + " length");
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])))) {
                fail(what + " at " + i + ": " + got[i] + " vs reference " + want[i] + " (tol " + tol + ")");
            }
        }
    }
}
