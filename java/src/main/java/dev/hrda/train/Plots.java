package dev.hrda.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Line plots of a run as PNG (what mmseg's analyze_logs.py draws from the .log.json): every loss
 * term over the iterations in {@code losses.png}, the validation mIoU of each data set in
 * {@code miou.png}. Drawn with OpenCV: no AWT, so it works in the portable bundle too.
 */
final class Plots {
    private static final int W = 900, H = 520, LEFT = 70, RIGHT = 230, TOP = 40, BOTTOM = 50;
    private static final int[][] COLOURS = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75},
        {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

    private Plots() {}

    /** One series: x (iterations) and y values. */
    record Series(String name, List<Double> x, List<Double> y) {}

    /** Loss terms (every key containing "loss") of the train records, one series each. */
    static Map<String, Series> lossSeries(List<Map<String, Object>> records) {
        Map<String, Series> out = new LinkedHashMap<>();
        for (Map<String, Object> r : records) {
            if (!"train".equals(r.get("mode"))) continue;
            double it = ((Number) r.get("iter")).doubleValue();
            for (var e : r.entrySet()) {
                if (!e.getKey().contains("loss") || !(e.getValue() instanceof Number n)) continue;
                out.computeIfAbsent(e.getKey(), k -> new Series(k, new ArrayList<>(), new ArrayList<>()));
                out.get(e.getKey()).x().add(it);
                out.get(e.getKey()).y().add(n.doubleValue());
            }
        }
        return out;
    }

    /** mIoU of the val records (keys mIoU or <set>.mIoU). */
    static Map<String, Series> miouSeries(List<Map<String, Object>> records) {
        Map<String, Series> out = new LinkedHashMap<>();
        for (Map<String, Object> r : records) {
            if (!"val".equals(r.get("mode"))) continue;
            double it = ((Number) r.get("iter")).doubleValue();
            for (var e : r.entrySet()) {
                if (!(e.getKey().equals("mIoU") || e.getKey().endsWith(".mIoU")) || !(e.getValue() instanceof Number n)) continue;
                out.computeIfAbsent(e.getKey(), k -> new Series(k, new ArrayList<>(), new ArrayList<>()));
                out.get(e.getKey()).x().add(it);
                out.get(e.getKey()).y().add(100 * n.doubleValue());
            }
        }
        return out;
    }

    /** Draws the series into {@code file} (nothing when there is no point). */
    static void write(Path file, String title, String yLabel, Iterable<Series> series) {
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        int n = 0;
        for (Series s : series) {
            for (int i = 0; i < s.x().size(); i++) {
                double y = s.y().get(i);
                if (!Double.isFinite(y)) continue;
                x0 = Math.min(x0, s.x().get(i));
                x1 = Math.max(x1, s.x().get(i));
                y0 = Math.min(y0, y);
                y1 = Math.max(y1, y);
                n++;
            }
        }
        if (n == 0) return;
        if (x1 == x0) x1 = x0 + 1;
        if (y1 == y0) y1 = y0 + 1;
        double pad = 0.05 * (y1 - y0);
        y0 -= pad;
        y1 += pad;
        int pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
        try (Canvas c = new Canvas(W, H, 255)) {
            // frame and grid
            c.lineTo(LEFT, TOP, LEFT, TOP + ph, 0, 0, 0, 1);
            c.lineTo(LEFT, TOP + ph, LEFT + pw, TOP + ph, 0, 0, 0, 1);
            for (int t = 0; t <= 5; t++) {
                int yy = TOP + ph - t * ph / 5, xx = LEFT + t * pw / 5;
                c.lineTo(LEFT, yy, LEFT + pw, yy, 225, 225, 225, 1);
                c.text(String.format(Locale.ROOT, "%.3g", y0 + t * (y1 - y0) / 5), 5, yy + 4, 0.4, 0, 0, 0);
                c.text(String.format(Locale.ROOT, "%.4g", x0 + t * (x1 - x0) / 5), xx - 12, TOP + ph + 18, 0.4, 0, 0, 0);
            }
            c.text(title, LEFT, 25, 0.6, 0, 0, 0);
            c.text("iter", LEFT + pw / 2, H - 12, 0.45, 0, 0, 0);
            c.text(yLabel, 5, TOP - 8, 0.45, 0, 0, 0);
            int k = 0;
            for (Series s : series) {
                int[] rgb = COLOURS[k % COLOURS.length];
                int px = -1, py = -1;
                for (int i = 0; i < s.x().size(); i++) {
                    double y = s.y().get(i);
                    if (!Double.isFinite(y)) {
                        px = -1;
                        continue;
                    }
                    int xx = LEFT + (int) Math.round((s.x().get(i) - x0) / (x1 - x0) * pw);
                    int yy = TOP + ph - (int) Math.round((y - y0) / (y1 - y0) * ph);
                    if (px >= 0) c.lineTo(px, py, xx, yy, rgb[2], rgb[1], rgb[0], 2);
                    else c.lineTo(xx, yy, xx, yy, rgb[2], rgb[1], rgb[0], 3);
                    px = xx;
                    py = yy;
                }
                int ly = TOP + 10 + 18 * k;
                c.lineTo(W - RIGHT + 15, ly, W - RIGHT + 40, ly, rgb[2], rgb[1], rgb[0], 3);
                c.text(s.name(), W - RIGHT + 45, ly + 4, 0.4, 0, 0, 0);
                k++;
            }
            c.write(file);
        }
    }
}
