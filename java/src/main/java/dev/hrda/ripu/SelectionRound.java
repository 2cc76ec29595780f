package dev.hrda.ripu;

import dev.hrda.active.Acquisition;
import dev.hrda.active.RegionSelector;
import dev.hrda.autograd.F;
import dev.hrda.autograd.NoGrad;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.data.Dataset;
import dev.hrda.data.Pipeline;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.Sample;
import dev.hrda.model.EncoderDecoder;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * One RIPU acquisition round over the target training set (build.py, ripu_spec.md §1): per
 * image, the model in evaluation mode (no gradient) predicts at the selection scale; the logits
 * are upsampled (bilinear, align_corners=True) to the image's own size and soft-maxed; the RA
 * or PA score ({@link Acquisition}) is computed there; the greedy selection
 * ({@link RegionSelector}) picks this round's budget, starting from the image's earlier
 * suppression; the selected pixels' ground truth is then revealed to training
 * ({@link ActiveLabels}, written as PNGs). The model's mode is restored afterwards.
 */
public final class SelectionRound {
    /**
     * What a round did: labelled pixels added (pixels whose ground truth is 255 included, as the
     * original counts them) and in total, the classes of the added pixels (index 255: ignore), the
     * images and the seconds it took.
     */
    public record Stats(int round, long iteration, long added, long total, long[] classes, int images, double seconds) {}

    /**
     * One image's selection: its size, the masks after it (1 = yes), the picks in order with their
     * scores, and the seconds the prediction (network, upsampling, softmax) and the acquisition
     * (scores, greedy selection) took.
     */
    public record Image(int width, int height, byte[] selected, byte[] active, byte[] label, RegionSelector.Picks picks,
                        double predictSeconds, double acquireSeconds) {}

    private SelectionRound() {}

    /** The pipeline of the selection pass: keep-ratio resize to the selection scale, normalise; a label, where the item has one, at its size. */
    public static Pipeline pipeline(int scaleW, int scaleH) {
        return pipeline(scaleW, scaleH, PipelineConfig.Interpolation.BILINEAR);
    }

    /** {@link #pipeline(int, int)} resizing the image with {@code interpolation} (RIPU: bicubic). */
    public static Pipeline pipeline(int scaleW, int scaleH, PipelineConfig.Interpolation interpolation) {
        return new Pipeline(PipelineConfig.test(scaleW, scaleH).withLabel(false).withInterpolation(interpolation));
    }

    /**
     * Selects one round on one image: prediction at {@code pipe}'s scale, softmax at the image's
     * size, the scores, {@code picks(h, w)} greedy picks after the earlier {@code active} /
     * {@code selected} masks (null: none yet). The model must be in evaluation mode.
     */
    public static Image select(EncoderDecoder model, Pipeline pipe, Dataset.Item item, byte[] active, byte[] selected, boolean regions,
                               int radius, java.util.function.IntBinaryOperator picks) {
        Tensor any = model.parameters().get(0);
        Backend be = any.backend();
        DType dt = any.dtype();
        try (Pipeline.Prepared p = pipe.prepare(item.image(), item.label()); Arena a = Arena.open(); NoGrad g = NoGrad.open()) {
            int h = p.originalHeight(), w = p.originalWidth();
            if ((active != null && active.length != h * w) || (selected != null && selected.length != h * w)) {
                throw new IllegalArgumentException("the earlier masks of " + item.image() + " are not " + w + "x" + h);
            }
            long t0 = System.nanoTime();
            Sample smp = pipe.finish(p, new int[] {0, 0, p.height(), p.width()}, false);
            Tensor img = Tensor.empty(be, dt, 1, 3, smp.height(), smp.width());
            img.copyFrom(smp.image());
            Tensor logits = model.logits(img);
            Scope.done(img);
            Tensor up = F.resizeAligned(logits, h, w);  // build.py: F.interpolate(..., align_corners=True) to the full size
            if (up != logits) Scope.done(logits);
            Tensor prob = F.softmax(up, 1);
            Scope.done(up);
            be.synchronize();
            long t1 = System.nanoTime();
            Tensor act = Tensor.ofBytes(be, active != null ? active : new byte[h * w], h, w);
            Tensor sel = Tensor.ofBytes(be, selected != null ? selected : new byte[h * w], h, w);
            RegionSelector selector = regions ? RegionSelector.regions(radius) : RegionSelector.pixels(radius);
            RegionSelector.Picks chosen;
            try (Acquisition.Scores sc = Acquisition.scores(be, prob, regions ? Acquisition.Mode.REGION : Acquisition.Mode.PIXEL, radius, false)) {
                Scope.done(prob);
                chosen = selector.select(be, F.reshape(sc.score(), h, w), act, sel, picks.applyAsInt(h, w));
            }
            return new Image(w, h, sel.toByteArray(), act.toByteArray(), p.label(), chosen, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
        }
    }

    public static Stats run(EncoderDecoder model, ActiveLabels labels, RipuSettings s, int round, long iteration) {
        long t0 = System.nanoTime();
        Dataset target = labels.target();
        Pipeline pipe = pipeline(s.selectW(), s.selectH(), s.selectInterpolation());
        boolean training = model.training(), stochastic = model.isStochastic();
        model.train(false);
        long added = 0;
        long[] classes = new long[256];
        try {
            for (int i = 0; i < target.size(); i++) {
                byte[] before = labels.selected(i);
                Image r = select(model, pipe, target.get(i), labels.active(i), before, s.regions(), s.radiusK(), s::picksPerRound);
                for (int q = 0; q < r.selected().length; q++) {
                    if (r.selected()[q] != 0 && (before == null || before[q] == 0)) {
                        added++;
                        classes[r.label() == null ? 255 : r.label()[q] & 0xFF]++;
                    }
                }
                labels.update(i, r.selected(), r.active(), r.width(), r.height());
            }
        } finally {
            model.train(training);
            model.stochastic(stochastic);
        }
        return new Stats(round, iteration, added, labels.selectedPixels(), classes, target.size(), (System.nanoTime() - t0) / 1e9);
    }
}
