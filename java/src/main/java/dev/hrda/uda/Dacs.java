package dev.hrda.uda;

import dev.hrda.autograd.F;
import dev.hrda.autograd.NoGrad;
import dev.hrda.autograd.Scope;
import dev.hrda.autograd.SegLosses;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.data.Batch;
import dev.hrda.data.UdaBatch;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.Losses;
import dev.hrda.model.Backbone;
import dev.hrda.model.Segmentor;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.Ema;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One DACS self-training iteration (dacs.py forward_train + train_step), with HRDA's
 * multi-resolution student and MIC's masked images where configured. {@link #step} reads top to
 * bottom like the original:
 * <ol>
 * <li>EMA teacher update (iteration 0: copy), zero gradients, the iteration's dropout seed;</li>
 * <li>source loss and the ImageNet feature distance of the same forward: one backward;</li>
 * <li>pseudo-labels of the target batch from the teacher (no tape), weighted by their confident
 * share and the validity masks;</li>
 * <li>ClassMix of source and target, strong augmentation, mixed loss, backward;</li>
 * <li>(MIC) masked target images, masked loss, backward;</li>
 * <li>AdamW step at the schedule's learning rate.</li>
 * </ol>
 * Every tensor of the iteration lives in an arena closed before {@code step} returns.
 */
public final class Dacs {
    /** Sees an iteration's intermediate tensors while they live: debug images, the golden test. */
    public interface Observer {
        default void source(Tensor image, Tensor label, Segmentor.TrainOutput out) {}

        /** The feature distance's label map at feature resolution (255 where no block majority). */
        default void featureDistance(Tensor downscaledLabel) {}

        default void pseudoLabels(Tensor target, PseudoLabel.Result pseudo) {}

        default void mixed(ClassMix.Mixed mixed, Segmentor.TrainOutput out) {}

        default void masked(Tensor image, Tensor label, Tensor weight, Segmentor.TrainOutput out) {}

        /** After every backward pass, before the optimizer step: the parameters' gradients are complete. */
        default void gradients() {}
    }

    /** Seconds spent in the parts of an iteration (device work synchronised before each reading). */
    public record Timing(double teacher, double forward, double backward, double optimizer) {}

    /**
     * @param lr  the learning rate of the base group this iteration
     * @param log the loss terms under mmseg's names (decode.loss_seg, src.loss_imnet_feat_dist,
     *            mix.decode.loss_seg, masked.decode.loss_seg, ...), the accuracies (…acc_seg), the
     *            pseudo-label weight, and "loss", the sum of the loss terms
     * @param phasePeaks the peak of the live tensor bytes of the device during each part of the step
     *            (src.forward, src.backward, teacher, mix.forward, mix.backward, masked.forward,
     *            masked.backward, optimizer), in step order: where the step's memory peak lies
     */
    public record Result(long iter, double lr, Map<String, Double> log, Timing timing, Map<String, Long> phasePeaks) {
        public Result(long iter, double lr, Map<String, Double> log, Timing timing) {
            this(iter, lr, log, timing, Map.of());
        }
    }

    private static final Observer NONE = new Observer() {};

    private final Backend backend;
    private final Segmentor student;
    private final Segmentor teacher;
    private final Backbone imnet;
    private final AdamW optimizer;
    private final PolySchedule schedule;
    private final DacsSettings s;
    private final Ema ema;
    private final StrongAugment mixAugment, micAugment;

    /**
     * @param teacher the EMA model (null for source-only training): frozen here, BatchNorm on
     *                batch statistics, dropout and drop-path off
     * @param imnet   the frozen ImageNet encoder of the feature distance (null when it is off)
     */
    public Dacs(Segmentor student, Segmentor teacher, Backbone imnet, AdamW optimizer, PolySchedule schedule, DacsSettings settings) {
        this.backend = student.parameters().get(0).backend();
        this.student = student;
        this.teacher = teacher;
        this.imnet = imnet;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.s = settings;
        if (!settings.sourceOnly() && teacher == null) throw new IllegalArgumentException("self-training needs an EMA teacher");
        if (settings.fdLambda() > 0 && imnet == null) throw new IllegalArgumentException("the feature distance needs the ImageNet encoder");
        student.train(true);
        if (teacher != null) {
            teacher.freeze();
            teacher.train(true);          // BatchNorm on the target batch's statistics, as the original
            teacher.stochastic(false);    // ... but no dropout / drop-path
        }
        if (imnet != null) {
            imnet.freeze();
            imnet.train(false);
        }
        this.ema = teacher == null ? null : new Ema(backend, teacher.parameters(), student.parameters(), (float) settings.alpha());
        this.mixAugment = new StrongAugment(s.jitterStrength(), s.jitterProbability(), s.blur(),
                                            StrongAugment.PIPELINE_MEAN, StrongAugment.PIPELINE_STD);
        // MIC draws its blur gate whatever the DACS blur setting (masking_consistency_module.py)
        this.micAugment = new StrongAugment(s.jitterStrength(), s.jitterProbability(), true,
                                            StrongAugment.PIPELINE_MEAN, StrongAugment.PIPELINE_STD);
    }

    public Segmentor student() { return student; }
    public Segmentor teacher() { return teacher; }
    public Backbone imnet() { return imnet; }
    public AdamW optimizer() { return optimizer; }
    public DacsSettings settings() { return s; }

    public Result step(long iter, UdaBatch data, Draws draws) {
        return step(iter, data, draws, NONE);
    }

    /** Iteration {@code iter} (0-based) on one batch; the parameters are updated when it returns. */
    public Result step(long iter, UdaBatch data, Draws draws, Observer obs) {
        Clock clock = new Clock(backend);
        Map<String, Double> log = new LinkedHashMap<>();
        try (Arena it = Arena.open()) {
            // 1. the teacher follows the student of the previous iteration; fresh gradients
            if (ema != null) ema.update(iter);
            optimizer.zeroGrad();
            F.seed(draws.dropoutSeed());
            Batch src = data.source();
            Tensor srcImg = modelDtype(src.images(backend)), srcLabel = src.labels(backend);
            int b = srcImg.dim(0), h = srcImg.dim(2), w = srcImg.dim(3);

            // 2. source loss and ImageNet feature distance (one backward for both, as the maintainer suggests)
            try (Scope phase = Scope.open(); Tape tape = Tape.record()) {
                Segmentor.TrainOutput out = student.forwardTrain(srcImg, srcLabel, null, draws.detailBox(Draws.Pass.SOURCE, student, h, w));
                Tensor loss = record(iter, log, "", out.losses());
                obs.source(srcImg, srcLabel, out);
                if (s.fdLambda() > 0) {
                    Tensor fd = featureDistance(srcImg, srcLabel, out.features(), obs);
                    loss = F.add(loss, term(iter, log, "src.loss_imnet_feat_dist", fd));
                }
                clock.lap(Clock.FORWARD, "src.forward");
                tape.backward(loss);
                clock.lap(Clock.BACKWARD, "src.backward");
            }
            if (!s.sourceOnly()) {
                Batch tgt = data.target();
                Tensor tgtImg = modelDtype(tgt.images(backend));
                Tensor valid = tgt.hasValid() ? modelDtype(tgt.valid(backend)) : null;

                // 3. pseudo-labels: softmax arg-max of the teacher, one weight for the batch
                PseudoLabel.Result pseudo;
                try (NoGrad g = NoGrad.open(); Scope phase = Scope.open()) {
                    Tensor logits = teacher.encodeDecode(tgtImg);
                    pseudo = PseudoLabel.compute(backend, logits, s.pseudoThreshold(), s.ignoreTop(), s.ignoreBottom(), valid);
                    phase.keep(pseudo.label());
                    phase.keep(pseudo.weight());
                }
                log.put("pseudo_weight", pseudo.fraction());
                obs.pseudoLabels(tgtImg, pseudo);
                clock.lap(Clock.TEACHER, "teacher");

                // 4. ClassMix of the source classes into the target, strong augmentation, mixed loss
                try (Scope phase = Scope.open(); Tape tape = Tape.record()) {
                    int[][] chosen = draws.classMix(ClassMix.presentClasses(backend, srcLabel), b);
                    ClassMix.Mixed mixed = ClassMix.mix(backend, srcImg, tgtImg, srcLabel, pseudo.label(), pseudo.weight(), chosen, true);
                    mixAugment.apply(backend, mixed.image(), draws.augment(Draws.Pass.MIX, mixAugment, b));
                    Segmentor.TrainOutput out = student.forwardTrain(mixed.image(), mixed.label(), mixed.weight(),
                                                                     draws.detailBox(Draws.Pass.MIX, student, h, w));
                    Tensor loss = record(iter, log, "mix.", out.losses());
                    obs.mixed(mixed, out);
                    clock.lap(Clock.FORWARD, "mix.forward");
                    tape.backward(loss);
                    clock.lap(Clock.BACKWARD, "mix.backward");
                }
                // 5. MIC: the same pseudo-labels on masked images
                if (s.mic() != null) masked(iter, log, srcImg, srcLabel, tgtImg, pseudo, draws, obs, clock);
            } else if (s.mic() != null) {
                masked(iter, log, srcImg, srcLabel, null, null, draws, obs, clock);
            }
            obs.gradients();

            // 6. AdamW at the schedule's learning rate (mmcv's poly with linear warm-up)
            double factor = schedule.factor(iter);
            optimizer.step(factor);
            clock.lap(Clock.OPTIMIZER, "optimizer");
            double total = 0;
            for (var e : log.entrySet()) if (e.getKey().contains("loss")) total += e.getValue();
            log.put("loss", total);
            return new Result(iter, optimizer.baseLr * factor, log, clock.timing(), clock.endPeakTrace());
        }
    }

    /**
     * MIC's masked images (masking_consistency_module.py): the target images (separatetrg; the
     * source images for separatesrc and in source-only training), a fresh strong augmentation for
     * the '*aug' modes, the block mask, and the student's loss against the pseudo-labels at the
     * pseudo-label weight (the source labels at weight 1); only the fused term is scaled by
     * mask_lambda.
     */
    private void masked(long iter, Map<String, Double> log, Tensor srcImg, Tensor srcLabel, Tensor tgtImg,
                        PseudoLabel.Result pseudo, Draws draws, Observer obs, Clock clock) {
        DacsSettings.Mic mic = s.mic();
        try (Scope phase = Scope.open(); Tape tape = Tape.record()) {
            Tensor img, label, weight;
            int h = srcImg.dim(2), w = srcImg.dim(3);
            if (s.sourceOnly() || !mic.useTarget()) {
                img = copy(srcImg);
                label = srcLabel;
                weight = null;
            } else {
                img = copy(tgtImg);
                label = pseudo.label();
                weight = pseudo.weight();
            }
            if (mic.augment()) micAugment.apply(backend, img, draws.augment(Draws.Pass.MASKED, micAugment, img.dim(0)));
            BlockMask.apply(backend, img, img, draws.blockMask(img.dim(0), h, w, mic.maskRatio(), mic.blockSize()));
            Segmentor.TrainOutput out = student.forwardTrain(img, label, weight, draws.detailBox(Draws.Pass.MASKED, student, h, w));
            Losses l = out.losses();
            Map<String, Tensor> terms = new LinkedHashMap<>(l.terms());
            Tensor total = l.total();
            if (mic.lambda() != 1) {
                Tensor fused = terms.get("decode.loss_seg");
                Tensor scaled = F.scale(fused, mic.lambda());
                terms.put("decode.loss_seg", scaled);
                total = F.add(F.add(total, F.scale(fused, -1)), scaled);
            }
            Tensor loss = record(iter, log, "masked.", new Losses(total, terms, l.metrics()));
            obs.masked(img, label, weight, out);
            clock.lap(Clock.FORWARD, "masked.forward");
            tape.backward(loss);
            clock.lap(Clock.BACKWARD, "masked.backward");
        }
    }

    /**
     * DAFormer's calc_feat_dist: the last-stage features of the source image from the frozen
     * ImageNet encoder (HRDA: of the ×0.5 context image, feature_scale 0.5) against the student's
     * of the same forward, on the pixels whose downscaled label (downscale_label_ratio, min ratio
     * 0.75) is a thing class; λ · mean L2 distance.
     */
    private Tensor featureDistance(Tensor img, Tensor label, List<Tensor> studentFeatures, Observer obs) {
        Tensor fs = studentFeatures.get(studentFeatures.size() - 1);
        Tensor fi;
        try (NoGrad g = NoGrad.open(); Scope inner = Scope.open()) {
            Tensor in = student instanceof HrdaEncoderDecoder hr ? F.resizeByFactor(img, hr.featureScale()) : img;
            List<Tensor> f = imnet.forward(in);
            fi = inner.keep(f.get(f.size() - 1));
        }
        int scale = label.dim(2) / fs.dim(3);
        Tensor small = LabelDownscale.majority(backend, label, scale, (float) s.fdMinRatio(), student.config.numClasses());
        obs.featureDistance(small);
        return F.scale(SegLosses.featureDistance(fs, fi, small, s.fdClasses()).loss(), s.fdLambda());
    }

    /** Logs the terms and metrics of a forward under {@code prefix}, checking each loss term is finite; returns the total. */
    private static Tensor record(long iter, Map<String, Double> log, String prefix, Losses l) {
        for (var e : l.terms().entrySet()) term(iter, log, prefix + e.getKey(), e.getValue());
        for (var e : l.metrics().entrySet()) log.put(prefix + e.getKey(), e.getValue());
        return l.total();
    }

    private static Tensor term(long iter, Map<String, Double> log, String name, Tensor value) {
        double v = value.item();
        if (!Double.isFinite(v)) throw new NonFiniteLossException(iter, name, v);
        log.put(name, v);
        return value;
    }

    /** Batches arrive in f32; an f64 (reference) or bf16 model computes in its own dtype. */
    private Tensor modelDtype(Tensor x) {
        dev.hrda.tensor.DType d = student.parameters().get(0).dtype();
        if (x.dtype() == d) return x;
        Tensor y = Tensor.empty(backend, d, x.shape());
        backend.convert(x, y);
        return y;
    }

    private Tensor copy(Tensor x) {
        Tensor y = Tensor.empty(backend, x.dtype(), x.shape());
        backend.copy(x, y);
        return y;
    }

    /**
     * Wall time per part, the device synchronised at each reading so that asynchronous work is
     * charged where it ran, and the peak of the live tensor bytes per named part (the device's
     * peak is reset at each reading and raised back to the step's peak at the end, so that the
     * trainer's logged peak is unchanged).
     */
    private static final class Clock {
        static final int TEACHER = 0, FORWARD = 1, BACKWARD = 2, OPTIMIZER = 3;
        private final Backend backend;
        private final double[] seconds = new double[4];
        private final Map<String, Long> peaks = new LinkedHashMap<>();
        private final long before;
        private long last = System.nanoTime();

        Clock(Backend backend) {
            this.backend = backend;
            this.before = MemoryStats.peakBytes(backend.device());
            MemoryStats.resetPeak(backend.device());
        }

        void lap(int part, String name) {
            backend.synchronize();
            long now = System.nanoTime();
            seconds[part] += (now - last) / 1e9;
            last = now;
            peaks.merge(name, MemoryStats.peakBytes(backend.device()), Math::max);
            MemoryStats.resetPeak(backend.device());
        }

        Timing timing() {
            return new Timing(seconds[TEACHER], seconds[FORWARD], seconds[BACKWARD], seconds[OPTIMIZER]);
        }

        /** The parts' peaks; raises the device's peak back to the step's (reset at each lap). */
        Map<String, Long> endPeakTrace() {
            long top = before;
            for (long v : peaks.values()) top = Math.max(top, v);
            MemoryStats.raisePeak(backend.device(), top);
            return java.util.Collections.unmodifiableMap(peaks);
        }
    }
}
