package dev.hrda.ripu;

import dev.hrda.autograd.F;
import dev.hrda.autograd.RipuLosses;
import dev.hrda.autograd.Scope;
import dev.hrda.autograd.SegLosses;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.data.Batch;
import dev.hrda.data.UdaBatch;
import dev.hrda.model.EncoderDecoder;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.uda.Dacs;
import dev.hrda.uda.NonFiniteLossException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One RIPU iteration (BIT-DA/RIPU train.py, ripu_spec.md §2): source and target batches through
 * the student, each domain's logits upsampled (bilinear, align_corners=True, as train.py) to its
 * label size, then
 * <pre>
 *   L = CE(src) + lcr · LCR(src) + CE(tgt, acquired labels) [if any pixel is labelled] + nl · NL(tgt)
 * </pre>
 * with torch's CrossEntropyLoss (the mean over the labelled pixels), {@link RipuLosses}. One
 * backward pass per domain (their gradients add up to those of the sum, with one domain's
 * activations alive at a time), then one optimizer step at the schedule's rate. Source-free: the
 * target terms only.
 */
public final class RipuStep {
    /** The optimizer a step drives: zero the gradients, then step at a factor of the base lr. */
    public interface Optimizer {
        void zeroGrad();

        void step(double lrFactor);

        double baseLr();
    }

    private final EncoderDecoder student;
    private final Optimizer optimizer;
    private final PolySchedule schedule;
    private final RipuSettings s;
    private final Backend backend;
    private final DType dtype;

    public RipuStep(EncoderDecoder student, Optimizer optimizer, PolySchedule schedule, RipuSettings settings) {
        this.student = student;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.s = settings;
        Tensor p = student.parameters().get(0);
        this.backend = p.backend();
        this.dtype = p.dtype();
    }

    /** Iteration {@code iter} (0-based); the parameters are updated when it returns. */
    public Dacs.Result step(long iter, UdaBatch data, long dropoutSeed) {
        Map<String, Double> log = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        double forward = 0, backward = 0;
        student.train(true);  // dropout on (DeepLab-v3+'s decoder); a selection round leaves it in evaluation mode
        try (Arena it = Arena.open()) {
            optimizer.zeroGrad();
            F.seed(dropoutSeed);
            if (!s.sourceFree()) {
                try (Scope phase = Scope.open(); Tape tape = Tape.record()) {
                    Batch src = data.source();
                    Tensor label = src.labels(backend), up = upsampled(src, label);
                    SegLosses.Result ce = RipuLosses.crossEntropy(up, label, RipuLosses.IGNORE);
                    Tensor loss = term(iter, log, "src.loss_seg", ce.loss());
                    log.put("src.acc_seg", ce.validAccuracy());
                    if (s.lcrWeight() > 0) {
                        RipuLosses.Masked lcr = RipuLosses.localConsistency(up, label, RipuLosses.IGNORE);
                        loss = F.add(loss, term(iter, log, "src.loss_lcr", F.scale(lcr.loss(), s.lcrWeight())));
                    }
                    long t1 = System.nanoTime();
                    forward += (t1 - t0) / 1e9;
                    tape.backward(loss);
                    backward += (System.nanoTime() - t1) / 1e9;
                }
            }
            long t2 = System.nanoTime();
            try (Scope phase = Scope.open(); Tape tape = Tape.record()) {
                Batch tgt = data.target();
                Tensor label = tgt.labels(backend), up = upsampled(tgt, label);
                Tensor loss = null;
                SegLosses.Result ce = RipuLosses.crossEntropy(up, label, RipuLosses.IGNORE);
                log.put("tgt.labelled", (double) ce.valid() / ce.pixels());
                if (ce.valid() > 0) loss = term(iter, log, "tgt.loss_seg", ce.loss());  // train.py skips the term without labels
                if (s.nlWeight() > 0) {
                    RipuLosses.Masked nl = RipuLosses.negativeLearning(up, s.tau());
                    Tensor t = term(iter, log, "tgt.loss_nl", F.scale(nl.loss(), s.nlWeight()));
                    loss = loss == null ? t : F.add(loss, t);
                }
                long t3 = System.nanoTime();
                forward += (t3 - t2) / 1e9;
                if (loss != null) tape.backward(loss);
                backward += (System.nanoTime() - t3) / 1e9;
            }
            long t4 = System.nanoTime();
            double factor = schedule.factor(iter);
            optimizer.step(factor);
            double total = 0;
            for (var e : log.entrySet()) if (e.getKey().contains("loss")) total += e.getValue();
            log.put("loss", total);
            return new Dacs.Result(iter, optimizer.baseLr() * factor, log, new Dacs.Timing(0, forward, backward, (System.nanoTime() - t4) / 1e9));
        }
    }

    /** The student's logits of a batch at its label size, bilinear with align_corners=True (RIPU's F.interpolate). */
    private Tensor upsampled(Batch b, Tensor label) {
        Tensor img = b.images(backend);
        if (img.dtype() != dtype) {
            Tensor c = Tensor.empty(backend, dtype, img.shape());
            backend.convert(img, c);
            img = c;
        }
        Tensor logits = student.logits(img);
        return F.resizeAligned(logits, label.dim(-2), label.dim(-1));
    }

    /** A loss term, logged (weighted, as train.py logs it); NaN/Inf stops the run naming the term and the iteration. */
    private static Tensor term(long iter, Map<String, Double> log, String name, Tensor t) {
        double v = t.item();
        if (!Double.isFinite(v)) throw new NonFiniteLossException(iter, name, v);
        log.put(name, v);
        return t;
    }
}
