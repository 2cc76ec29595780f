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
    public record Stats(int round, long iteration, long added, long total, long[] classes, int images, double seconds) {
        /** Fraction of all target pixels labelled after this round. */
        public double fraction(long targetPixels) {
            return targetPixels == 0 ? 0 : (double) total / targetPixels;
        }
    }

    private SelectionRound() {}

    public static Stats run(EncoderDecoder model, ActiveLabels labels, RipuSettings s, int round, long iteration) {
        long t0 = System.nanoTime();
        Dataset target = labels.target();
        Tensor any = model.parameters().get(0);
        Backend be = any.backend();
        DType dt = any.dtype();
        // the test pipeline at the selection scale (keep-ratio resize, normalise), the label at its size
        Pipeline pipe = new Pipeline(PipelineConfig.test(s.selectW(), s.selectH()).withLabel(true));
        boolean training = model.training(), stochastic = model.isStochastic();
        model.train(false);
        long added = 0;
        long[] classes = new long[256];
        RegionSelector selector = s.regions() ? RegionSelector.regions(s.radiusK()) : RegionSelector.pixels(s.radiusK());
        Acquisition.Mode mode = s.regions() ? Acquisition.Mode.REGION : Acquisition.Mode.PIXEL;
        try {
            for (int i = 0; i < target.size(); i++) {
                Dataset.Item item = target.get(i);
                try (Pipeline.Prepared p = pipe.prepare(item.image(), item.label());
                     Arena a = Arena.open(); NoGrad g = NoGrad.open()) {
                    int h = p.originalHeight(), w = p.originalWidth();
                    Sample smp = pipe.finish(p, new int[] {0, 0, p.height(), p.width()}, false);
                    Tensor img = Tensor.empty(be, dt, 1, 3, smp.height(), smp.width());
                    img.copyFrom(smp.image());
                    Tensor logits = model.logits(img);
                    Scope.done(img);
                    Tensor up = F.resizeAligned(logits, h, w);
                    if (up != logits) Scope.done(logits);
                    Tensor prob = F.softmax(up, 1);
                    Scope.done(up);
                    byte[] act = labels.active(i), sel = labels.selected(i);
                    Tensor active = Tensor.ofBytes(be, act != null ? act : new byte[h * w], h, w);
                    Tensor selected = Tensor.ofBytes(be, sel != null ? sel : new byte[h * w], h, w);
                    int count = s.picksPerRound(h, w);
                    try (Acquisition.Scores sc = Acquisition.scores(be, prob, mode, s.radiusK(), false)) {
                        Scope.done(prob);
                        Tensor score = F.reshape(sc.score(), h, w);
                        selector.select(be, score, active, selected, count);
                    }
                    byte[] newSel = selected.toByteArray(), newAct = active.toByteArray();
                    byte[] gt = p.label();
                    for (int q = 0; q < newSel.length; q++) {
                        if (newSel[q] != 0 && (sel == null || sel[q] == 0)) {
                            added++;
                            classes[gt == null ? 255 : gt[q] & 0xFF]++;
                        }
                    }
                    labels.update(i, newSel, newAct, w, h);
                }
            }
        } finally {
            model.train(training);
            model.stochastic(stochastic);
        }
        return new Stats(round, iteration, added, labels.selectedPixels(), classes, target.size(), (System.nanoTime() - t0) / 1e9);
    }
}
