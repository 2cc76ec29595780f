package dev.hrda.train;

import dev.hrda.backend.Backend;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.uda.ClassMix;
import dev.hrda.uda.Dacs;
import dev.hrda.uda.PseudoLabel;
import dev.hrda.uda.StrongAugment;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * DACS's debug images (dacs.py, every debug_img_interval iterations), one PNG per sample,
 * {@code debug/<iter>_<j>.png}: a row per pass of the iteration, tiles in the originals' order:
 * source (image, ground truth, the student's fused prediction; for HRDA also the context (LR)
 * and detail (HR) predictions and the scale attention, summed over the classes weighted by the
 * fused softmax, as hrda_head.py's debug output), the feature-distance label map, target (image,
 * pseudo-label, pixel weight), mixed (image, ClassMix domain mask, mixed label, pixel weight,
 * prediction) and masked (image, prediction). Collected on the host while the iteration runs.
 */
final class DebugImages implements Dacs.Observer {
    private static final int TILE = 192;

    private record Tile(String title, Kind kind, Object data, int h, int w, float lo, float hi) {}

    private enum Kind { RGB, LABELS, GRAY }

    private final Backend backend;
    private final int batch;
    private final List<List<List<Tile>>> rows = new ArrayList<>();  // per sample: rows of tiles

    DebugImages(Backend backend, int batch) {
        this.backend = backend;
        this.batch = batch;
        for (int j = 0; j < batch; j++) rows.add(new ArrayList<>());
    }

    @Override
    public void source(Tensor image, Tensor label, Segmentor.TrainOutput out) {
        List<List<Tile>> r = newRow();
        add(r, rgb("Source Image", image));
        add(r, labels("Source Seg GT", label));
        add(r, labels("Source Pred", argmax(out.logits())));
        HrdaEncoderDecoder.Outputs parts = out.parts();
        if (parts != null) {
            add(r, labels("Low Res (context)", argmax(parts.lr())));
            add(r, labels("High Res (detail)", argmax(parts.hr())));
            add(r, attention(parts.att(), parts.fused()));
        }
    }

    @Override
    public void featureDistance(Tensor downscaledLabel) {
        List<Tile> t = labels("FDist Scaled GT", downscaledLabel);
        for (int j = 0; j < batch; j++) rows.get(j).get(rows.get(j).size() - 1).add(t.get(j));
    }

    @Override
    public void pseudoLabels(Tensor target, PseudoLabel.Result pseudo) {
        List<List<Tile>> r = newRow();
        add(r, rgb("Target Image", target));
        add(r, labels("Target Pseudo Label", pseudo.label()));
        add(r, gray("Pseudo W.", pseudo.weight(), 0, 1));
    }

    @Override
    public void mixed(ClassMix.Mixed mixed, Segmentor.TrainOutput out) {
        List<List<Tile>> r = newRow();
        add(r, rgb("Mixed Image", mixed.image()));
        if (mixed.mask() != null) add(r, gray("Domain Mask", toFloat(mixed.mask()), 0, 1));
        add(r, labels("Seg Targ", mixed.label()));
        add(r, gray("Mixed W.", mixed.weight(), 0, 1));
        add(r, labels("Mix Pred", argmax(out.logits())));
    }

    @Override
    public void masked(Tensor image, Tensor label, Tensor weight, Segmentor.TrainOutput out) {
        List<List<Tile>> r = newRow();
        add(r, rgb("Masked Image", image));
        add(r, labels("Masked Pred", argmax(out.logits())));
    }

    private List<List<Tile>> newRow() {
        List<List<Tile>> r = new ArrayList<>();
        for (int j = 0; j < batch; j++) {
            List<Tile> row = new ArrayList<>();
            rows.get(j).add(row);
            r.add(row);
        }
        return r;
    }

    private static void add(List<List<Tile>> row, List<Tile> perSample) {
        for (int j = 0; j < row.size(); j++) row.get(j).add(perSample.get(j));
    }

    /** Writes {@code dir/<iter, 6 digits>_<j>.png} for every sample. */
    List<Path> write(Path dir, long iteration) {
        List<Path> out = new ArrayList<>();
        for (int j = 0; j < batch; j++) {
            List<List<Tile>> r = rows.get(j);
            int cols = 1;
            for (List<Tile> row : r) cols = Math.max(cols, row.size());
            int th = TILE, tw = TILE, title = 18;
            try (Canvas c = new Canvas(cols * (tw + 4) + 4, r.size() * (th + title + 4) + 4, 255)) {
                for (int y = 0; y < r.size(); y++) {
                    for (int x = 0; x < r.get(y).size(); x++) {
                        Tile t = r.get(y).get(x);
                        int x0 = 4 + x * (tw + 4), y0 = 4 + y * (th + title + 4) + title;
                        switch (t.kind) {
                            case RGB -> c.rgb((float[]) t.data, t.h, t.w, x0, y0, tw, th);
                            case LABELS -> c.labels((int[]) t.data, t.h, t.w, x0, y0, tw, th);
                            case GRAY -> c.gray((float[]) t.data, t.h, t.w, t.lo, t.hi, x0, y0, tw, th);
                        }
                    }
                }
                for (int y = 0; y < r.size(); y++) {
                    for (int x = 0; x < r.get(y).size(); x++) {
                        c.text(r.get(y).get(x).title, 4 + x * (tw + 4), 4 + y * (th + title + 4) + title - 5, 0.45, 0, 0, 0);
                    }
                }
                Path f = dir.resolve(String.format("%06d_%d.png", iteration, j));
                c.write(f);
                out.add(f);
            }
        }
        return out;
    }

    // ---- host copies, per sample

    private List<Tile> rgb(String title, Tensor img) {
        float[] v = img.toFloatArray();
        int b = img.dim(0), h = img.dim(2), w = img.dim(3), plane = h * w;
        List<Tile> out = new ArrayList<>();
        for (int j = 0; j < b; j++) {
            float[] chw = new float[3 * plane];
            for (int ch = 0; ch < 3; ch++) {
                for (int p = 0; p < plane; p++) {
                    chw[ch * plane + p] = v[(j * 3 + ch) * plane + p] * StrongAugment.PIPELINE_STD[ch] + StrongAugment.PIPELINE_MEAN[ch];
                }
            }
            out.add(new Tile(title, Kind.RGB, chw, h, w, 0, 0));
        }
        return out;
    }

    private List<Tile> labels(String title, Tensor ids) {
        int[] v = ids.toIntArray();
        int b = ids.dim(0), h = ids.dim(1), w = ids.dim(2), plane = h * w;
        List<Tile> out = new ArrayList<>();
        for (int j = 0; j < b; j++) out.add(new Tile(title, Kind.LABELS, java.util.Arrays.copyOfRange(v, j * plane, (j + 1) * plane), h, w, 0, 0));
        return out;
    }

    private List<Tile> gray(String title, Tensor map, float lo, float hi) {
        float[] v = map.toFloatArray();
        int b = map.dim(0), plane = (int) (map.numel() / b), h = map.dim(map.rank() - 2), w = map.dim(map.rank() - 1);
        List<Tile> out = new ArrayList<>();
        for (int j = 0; j < b; j++) out.add(new Tile(title, Kind.GRAY, java.util.Arrays.copyOfRange(v, j * plane, (j + 1) * plane), h, w, lo, hi));
        return out;
    }

    private Tensor toFloat(Tensor u8) {
        Tensor f = Tensor.empty(backend, DType.F32, u8.shape());
        backend.convert(u8, f);
        return f;
    }

    private Tensor argmax(Tensor logits) {
        int b = logits.dim(0), k = logits.dim(1), h = logits.dim(2), w = logits.dim(3);
        Tensor out = Tensor.empty(backend, DType.I32, b, h, w);
        backend.pseudoLabel(logits, out, null, null, 2, b, k, (long) h * w);
        return out;
    }

    /** sum_k up2(att)_k * softmax(fused)_k: where the fused prediction follows the detail branch. */
    private List<Tile> attention(Tensor att, Tensor fused) {
        int b = fused.dim(0), k = fused.dim(1), h = fused.dim(2), w = fused.dim(3), ah = att.dim(2), aw = att.dim(3);
        float[] a = att.toFloatArray(), f = fused.toFloatArray();
        List<Tile> out = new ArrayList<>();
        for (int j = 0; j < b; j++) {
            float[] map = new float[h * w];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double mx = Double.NEGATIVE_INFINITY, sum = 0, acc = 0;
                    for (int c = 0; c < k; c++) mx = Math.max(mx, f[((j * k + c) * h + y) * w + x]);
                    for (int c = 0; c < k; c++) sum += Math.exp(f[((j * k + c) * h + y) * w + x] - mx);
                    int ay = Math.min(y * ah / h, ah - 1), ax = Math.min(x * aw / w, aw - 1);
                    for (int c = 0; c < k; c++) {
                        acc += a[((j * k + c) * ah + ay) * aw + ax] * Math.exp(f[((j * k + c) * h + y) * w + x] - mx) / sum;
                    }
                    map[y * w + x] = (float) acc;
                }
            }
            out.add(new Tile("Scale Attention", Kind.GRAY, map, h, w, 0, 1));
        }
        return out;
    }
}
