package dev.hrda.eval;

import dev.hrda.backend.CpuBackend;
import dev.hrda.data.LabelMaps;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mmseg 0.16 eval_metrics semantics of ConfusionMatrix and SegMetrics. */
class MetricsTest {
    static final List<String> FIVE = List.of("a", "b", "c", "d", "e");

    /**
     * 14 pixels, 5 classes, worked out by hand: two ignored pixels, class d neither labelled nor
     * predicted (NaN), class e predicted once but never labelled (IoU 0, Acc NaN), one label
     * outside the classes (7) that, as with mmseg's histc, still counts in the predicted area of b.
     */
    @Test void handComputedExample() {
        byte[] label = {0, 0, 0, 1, 1, 2, (byte) 255, (byte) 255, 0, 1, 2, 2, 0, 7};
        byte[] pred = {0, 0, 1, 1, 2, 2, 0, 1, 0, 1, 0, 2, 4, 1};
        ConfusionMatrix m = new ConfusionMatrix(5);
        m.add(pred, label);
        // a: labelled 5, predicted 4, both 3 -> union 6; b: labelled 3, predicted 4 (one on label 7), both 2 -> union 5
        assertEquals(3, m.intersection(0));
        assertEquals(6, m.union(0));
        assertEquals(4, m.predicted(1));
        assertEquals(5, m.union(1));
        assertEquals(12, m.pixels());
        SegMetrics s = SegMetrics.of(m, FIVE);
        assertArrayEquals(new double[] {50, 40, 50, Double.NaN, 0}, s.iou(), 1e-12);
        assertArrayEquals(new double[] {60, 200.0 / 3, 200.0 / 3, Double.NaN, Double.NaN}, s.acc(), 1e-12);
        assertEquals(700.0 / 11, s.aAcc(), 1e-12);
        assertEquals(35.0, s.mIoU(), 1e-12);           // (50 + 40 + 50 + 0) / 4
        assertEquals(580.0 / 9, s.mAcc(), 1e-12);      // (60 + 200/3 + 200/3) / 3
        String table = s.table();
        assertTrue(table.contains("| a     | 50.00 | 60.00 |"), table);
        assertTrue(table.contains("| d     |   nan |   nan |"), table);
        assertTrue(table.contains("| 63.64 | 35.00 | 64.44 |"), table);
    }

    /**
     * Fresh random images of different sizes with ignore pixels, labels outside the classes and
     * absent classes, against counting each class directly as mmseg does (mask label != 255,
     * then histograms over the class range of the intersection, the prediction and the label).
     */
    @Test void agreesWithBruteForceCounts() {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int k = 19;
        ConfusionMatrix m = new ConfusionMatrix(k);
        long[] inter = new long[k], predArea = new long[k], labelArea = new long[k];
        for (int image = 0; image < 4; image++) {
            int n = 500 + r.nextInt(3000);
            byte[] label = new byte[n], pred = new byte[n];
            for (int i = 0; i < n; i++) {
                double u = r.nextDouble();
                // labels: classes 0..15, 10% ignore, 2% outside the classes; 16..18 never labelled
                label[i] = (byte) (u < 0.1 ? 255 : u < 0.12 ? 19 + r.nextInt(200) : r.nextInt(16));
                // predictions: anything but 17, biased towards the label so that IoUs are not tiny
                int p = r.nextDouble() < 0.5 && (label[i] & 0xFF) < 16 ? label[i] : r.nextInt(k);
                pred[i] = (byte) (p == 17 ? 3 : p);
            }
            m.add(pred, label);
            for (int i = 0; i < n; i++) {
                int l = label[i] & 0xFF, p = pred[i] & 0xFF;
                if (l == 255) continue;
                if (p < k) predArea[p]++;
                if (l < k) labelArea[l]++;
                if (p == l && l < k) inter[l]++;
            }
        }
        SegMetrics s = SegMetrics.of(m, LabelMaps.CLASSES);
        double[] iou = new double[k], acc = new double[k];
        double iouSum = 0, accSum = 0;
        int iouN = 0, accN = 0;
        for (int c = 0; c < k; c++) {
            assertEquals(inter[c], m.intersection(c), "intersection of " + c + ", seed " + seed);
            assertEquals(predArea[c], m.predicted(c), "predicted area of " + c + ", seed " + seed);
            assertEquals(labelArea[c], m.labelled(c), "label area of " + c + ", seed " + seed);
            long union = predArea[c] + labelArea[c] - inter[c];
            iou[c] = union == 0 ? Double.NaN : 100.0 * inter[c] / union;
            acc[c] = labelArea[c] == 0 ? Double.NaN : 100.0 * inter[c] / labelArea[c];
            if (union > 0) { iouSum += iou[c]; iouN++; }
            if (labelArea[c] > 0) { accSum += acc[c]; accN++; }
        }
        assertArrayEquals(iou, s.iou(), 1e-12, "seed " + seed);
        assertArrayEquals(acc, s.acc(), 1e-12, "seed " + seed);
        assertTrue(Double.isNaN(s.iou()[17]) && Double.isNaN(s.acc()[17]), "class 17: neither labelled nor predicted");
        assertEquals(0.0, s.iou()[18], "class 18: predicted, never labelled");
        assertTrue(Double.isNaN(s.acc()[18]));
        assertEquals(18, iouN);
        assertEquals(iouSum / iouN, s.mIoU(), 1e-9);
        assertEquals(accSum / accN, s.mAcc(), 1e-9);
        assertEquals(100.0 * Arrays.stream(inter).sum() / Arrays.stream(labelArea).sum(), s.aAcc(), 1e-12);
    }

    /** int predictions and U8/I32 prediction tensors give the same counts as bytes. */
    @Test void predictionsAsIntsAndTensorsCountTheSame() {
        Random r = new Random(3);
        int n = 40 * 30;
        byte[] label = new byte[n], pred = new byte[n];
        int[] predInts = new int[n];
        for (int i = 0; i < n; i++) {
            label[i] = (byte) (r.nextInt(8) == 0 ? 255 : r.nextInt(6));
            predInts[i] = r.nextInt(6);
            pred[i] = (byte) predInts[i];
        }
        ConfusionMatrix bytes = new ConfusionMatrix(6), ints = new ConfusionMatrix(6), u8 = new ConfusionMatrix(6), i32 = new ConfusionMatrix(6);
        bytes.add(pred, label);
        ints.add(predInts, label);
        try (CpuBackend be = new CpuBackend(); Tensor tu8 = Tensor.ofBytes(be, pred, 30, 40); Tensor ti32 = Tensor.of(be, predInts, 1, 30, 40)) {
            u8.add(tu8, label);
            i32.add(ti32, label);
        }
        for (ConfusionMatrix other : List.of(ints, u8, i32)) {
            for (int l = 0; l <= 6; l++) {
                for (int p = 0; p <= 6; p++) assertEquals(bytes.count(l, p), other.count(l, p), "count(" + l + ", " + p + ")");
            }
        }
        ConfusionMatrix twice = new ConfusionMatrix(6);
        twice.addAll(bytes);
        twice.addAll(ints);
        assertEquals(2 * bytes.pixels(), twice.pixels());
        assertEquals(2 * bytes.union(2), twice.union(2));
    }

    /**
     * mIoU16 is the mean over the 16 Synthia classes; where terrain, truck and train are labelled
     * but never predicted (IoU 0), it equals the authors' conversion mIoU19 · 19/16.
     */
    @Test void miou16IsTheSynthiaMeanAndTheAuthorsConversion() {
        Random r = new Random(11);
        int n = 20000;
        byte[] label = new byte[n], pred = new byte[n];
        for (int i = 0; i < n; i++) {
            label[i] = (byte) r.nextInt(19);
            int p = r.nextBoolean() ? label[i] : r.nextInt(19);
            pred[i] = (byte) (p == LabelMaps.TERRAIN || p == LabelMaps.TRUCK || p == LabelMaps.TRAIN ? LabelMaps.ROAD : p);
        }
        ConfusionMatrix m = new ConfusionMatrix(19);
        m.add(pred, label);
        SegMetrics s = SegMetrics.of(m, LabelMaps.CLASSES);
        List<Double> synthia = new ArrayList<>();
        for (int c : LabelMaps.SYNTHIA_CLASSES) synthia.add(s.iou()[c]);
        double mean16 = synthia.stream().mapToDouble(Double::doubleValue).sum() / 16;
        assertEquals(0.0, s.iou()[LabelMaps.TERRAIN]);
        assertEquals(mean16, s.meanIoU(LabelMaps.SYNTHIA_CLASSES), 1e-12);
        assertEquals(s.mIoU() * 19 / 16, s.meanIoU(LabelMaps.SYNTHIA_CLASSES), 1e-9);
    }
}
