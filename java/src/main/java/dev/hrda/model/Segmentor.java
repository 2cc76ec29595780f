package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.autograd.SegLosses;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Box;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;

/**
 * An encoder-decoder segmentor with mmseg's state-dict layout: "backbone.*" and "decode_head.*".
 * {@link EncoderDecoder} is any encoder with any head (DAFormer, source-only, RIPU's DeepLab);
 * {@link HrdaEncoderDecoder} HRDA.
 */
public abstract class Segmentor extends Module {
    public static final int IGNORE = 255;
    public final ModelConfig config;
    public final Backbone backbone;

    protected Segmentor(Backend backend, DType dtype, ModelConfig config, Random r) {
        super(backend, dtype);
        this.config = config;
        this.backbone = child("backbone", Backbone.create(backend, dtype, config.backbone(), r));
    }

    /** Builds the model a config names, with the originals' random initialisation. */
    public static Segmentor create(Backend backend, DType dtype, ModelConfig config, long seed) {
        Random r = new Random(seed);
        return config.isHrda() ? new HrdaEncoderDecoder(backend, dtype, config, r) : new EncoderDecoder(backend, dtype, config, r);
    }

    /**
     * What one training forward produced: the loss and its terms, the logits it was computed from
     * (stride 4; HRDA's fused ones), the encoder features the ImageNet feature distance compares
     * (DAFormer: of the image; HRDA: of the context crop, its feature_scale 0.5), and for HRDA the
     * parts of the fused prediction (debug images).
     */
    public record TrainOutput(Losses losses, Tensor logits, List<Tensor> features, HrdaEncoderDecoder.Outputs parts) {}

    /**
     * Training forward on a batch: images [B, 3, H, W], train-id labels int32 [B, H, W] (255 =
     * ignore), optional pixel weights [B, H, W]; {@code detailBox} is HRDA's detail crop (from
     * {@link #randomDetailBox}; ignored by DAFormer, may be null there). One encoder pass: the
     * returned features are those the loss was computed from.
     */
    public abstract TrainOutput forwardTrain(Tensor img, Tensor label, Tensor weight, CropBox detailBox);

    /** HRDA's random detail crop of an h x w training input (get_crop_bbox); null for a single-scale model. */
    public CropBox randomDetailBox(int h, int w, RandomGenerator rng) {
        return null;
    }

    /** {@link #forwardTrain(Tensor, Tensor, Tensor, CropBox)} with the detail crop drawn from {@code rng}; the losses only. */
    public Losses forwardTrain(Tensor img, Tensor label, Tensor weight, Random rng) {
        return forwardTrain(img, label, weight, randomDetailBox(img.dim(2), img.dim(3), rng)).losses();
    }

    /** Whether logits are resized with align_corners=True (RIPU's DeepLab heads) rather than mmseg's False. */
    public boolean alignCorners() {
        return false;
    }

    /** Inference logits of one window at the input's size [B, K, H, W] (mmseg encode_decode). */
    public abstract Tensor encodeDecode(Tensor img);

    /** {@link #windowBatch(int)}: every window of a slide test in one batch, as the original's batched_slide. */
    public static final int ALL_WINDOWS = 0;
    /** Windows per batch unless set: one window at a time, the smallest working set (docs/eval.md). */
    public static final int DEFAULT_WINDOW_BATCH = 1;

    private int windowBatch = DEFAULT_WINDOW_BATCH;

    /**
     * How many windows of a slide test run through the network at once: the slide test's
     * windows and HRDA's overlapping detail windows inside each (a window of a batch of B images
     * is B samples). {@link #ALL_WINDOWS} batches them all, as the original's batched_slide;
     * smaller chunks hold one chunk's activations at a time. The logits are the same bits
     * whatever the chunk size: every window's logits are summed into the output in window order.
     * A model in training mode (BatchNorm on batch statistics, as DACS runs its teacher) always
     * batches all windows: its statistics are those of all windows, as in the original.
     */
    public void windowBatch(int n) {
        if (n < 0) throw new IllegalArgumentException("window batch must be positive (or 0 for all windows at once), got " + n);
        windowBatch = n;
    }

    public int windowBatch() {
        return windowBatch;
    }

    /**
     * Test-time logits at the input size: whole-image ({@code testCrop} 0) or mmseg's batched
     * slide inference (windows testCrop, stride testStride, logits averaged in overlaps), the
     * windows streamed {@link #windowBatch} at a time.
     */
    public Tensor inference(Tensor img) {
        int h = img.dim(2), w = img.dim(3), crop = config.testCrop();
        if (crop == 0 || (h <= crop && w <= crop)) return encodeDecode(img);
        return slide(img, CropBox.slide(h, w, crop, config.testStride()), 1, this::encodeDecode);
    }

    /**
     * A slide test: the windows of {@code img} at {@code boxes}, {@link #windowBatch} at a time
     * (window-major: a chunk of n windows of a batch of B images is n·B samples), through
     * {@code net}, whose output has stride {@code stride} with respect to the input; each
     * chunk's logits are added into a [B, K, H/stride, W/stride] sum in place and freed before
     * the next chunk runs, and the sum is divided by how many windows cover each pixel.
     * Inference only: records no gradient.
     */
    protected Tensor slide(Tensor img, List<CropBox> boxes, int stride, UnaryOperator<Tensor> net) {
        // BatchNorm on batch statistics must see every window at once (the original's batch)
        boolean all = windowBatch == ALL_WINDOWS || training();
        int batch = img.dim(0), per = all ? boxes.size() : Math.min(windowBatch, boxes.size());
        WindowSum sum = null;
        for (int first = 0; first < boxes.size(); first += per) {
            List<CropBox> chunk = boxes.subList(first, Math.min(first + per, boxes.size()));
            try (Scope s = Scope.open()) {
                List<Tensor> crops = new ArrayList<>(chunk.size());
                for (CropBox b : chunk) crops.add(F.crop(img, b.top(), b.left(), b.height(), b.width()));
                Tensor windows = F.catBatch(crops);
                Scope.done(crops);
                Tensor logits = net.apply(windows);
                Scope.done(windows);
                if (sum == null) sum = new WindowSum(s.keep(Tensor.zeros(logits.backend(), logits.dtype(), batch, logits.dim(1),
                                                                        img.dim(2) / stride, img.dim(3) / stride)));
                for (int i = 0; i < chunk.size(); i++) sum.add(logits, i, chunk.size(), chunk.get(i).scaled(stride));
            }
        }
        return sum.average();
    }

    /**
     * Window logits summed into a [B, K, h, w] grid with a count of the windows per pixel. The
     * sum adds the windows in the order they come (the same bits whether they come in one batch
     * or in chunks); {@link #average} multiplies by 1/count in place, plane by plane.
     */
    private static final class WindowSum {
        private final Tensor sum;
        private final int[] count;

        WindowSum(Tensor sum) {
            this.sum = sum;
            this.count = new int[sum.dim(2) * sum.dim(3)];
        }

        /** Adds window {@code i} of the window-major {@code logits} ([windows × B, K, h', w']) at {@code box}. */
        void add(Tensor logits, int i, int windows, CropBox box) {
            int batch = sum.dim(0), h = sum.dim(2), w = sum.dim(3), planes = batch * sum.dim(1);
            // window i is planes [i*B*K, (i+1)*B*K) of the window-major batch
            sum.backend().copyBox(logits, sum, new Box(1, windows * planes, box.height(), box.width(), i * planes, 0, 0, planes, h, w, 0,
                                                       box.top(), box.left(), planes, box.height(), box.width()), true);
            for (int y = box.top(); y < box.top() + box.height(); y++) {
                for (int x = box.left(); x < box.left() + box.width(); x++) count[y * w + x]++;
            }
        }

        /** The sum divided by the window count, in place: 1/count as one plane, multiplied into each (sample, class) plane. */
        Tensor average() {
            Backend be = sum.backend();
            int h = sum.dim(2), w = sum.dim(3), planes = sum.dim(0) * sum.dim(1);
            double[] inv = new double[h * w];
            for (int p = 0; p < inv.length; p++) inv[p] = 1.0 / count[p];
            try (Tensor scale = Tensor.empty(be, sum.dtype(), 1, 1, h, w); Tensor plane = Tensor.empty(be, sum.dtype(), 1, 1, h, w)) {
                scale.copyFrom(inv);
                for (int i = 0; i < planes; i++) {
                    be.copyBox(sum, plane, new Box(1, planes, h, w, i, 0, 0, 1, h, w, 0, 0, 0, 1, h, w), false);
                    be.mul(plane, scale, plane, false);
                    be.copyBox(plane, sum, new Box(1, 1, h, w, 0, 0, 0, planes, h, w, i, 0, 0, 1, h, w), false);
                }
            }
            return sum;
        }
    }

    /** A decode-head loss and mmseg's acc_seg of the same logits (percent of the non-ignored pixels). */
    public record SegLoss(Tensor loss, double accuracy) {}

    /**
     * mmseg decode_head.losses: logits bilinearly resized to the label size, CE (ignore 255)
     * times the pixel weight, mean over all pixels, and acc_seg (mmseg 0.16's accuracy: correct
     * pixels over all pixels), in one fused pass each way ({@link SegLosses#crossEntropy}).
     */
    protected static SegLoss segLoss(Tensor logits, Tensor label, Tensor weight) {
        SegLosses.Result r = SegLosses.crossEntropy(logits, label, weight, IGNORE);
        return new SegLoss(r.loss(), r.accuracy());
    }

    /**
     * Activation checkpointing (mmseg's with_cp) of the encoder's blocks and the decode heads'
     * ASPP: their activations are recomputed in the backward pass instead of kept.
     */
    public void useCheckpoint(boolean on) {
        backbone.useCheckpoint(on);
        for (DecodeHead h : heads()) h.useCheckpoint(on);
    }

    /** The decode heads of this model. */
    protected abstract List<DecodeHead> heads();

    /** The MiT encoder, for what only MiT has (its fused attention switch). */
    public MixTransformer mit() {
        if (backbone instanceof MixTransformer m) return m;
        throw new IllegalStateException(config.name() + " has a " + config.backbone().name() + " encoder, not MiT");
    }

    /** Parameter count of each top-level component (backbone, decode_head.*). */
    public Map<String, Long> parameterCounts() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) {
            String name = e.getKey();
            String part = name.startsWith("decode_head.head.") ? "decode_head.head"
                        : name.startsWith("decode_head.scale_attention.") ? "decode_head.scale_attention"
                        : name.substring(0, name.indexOf('.'));
            out.merge(part, e.getValue().numel(), Long::sum);
        }
        return out;
    }
}
