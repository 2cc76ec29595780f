package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.SegLosses;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Box;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.random.RandomGenerator;

/**
 * An encoder-decoder segmentor with mmseg's state-dict layout: "backbone.*" and "decode_head.*".
 * {@link EncoderDecoder} is DAFormer (and source-only training); {@link HrdaEncoderDecoder} HRDA.
 */
public abstract class Segmentor extends Module {
    public static final int IGNORE = 255;
    public final ModelConfig config;
    public final MixTransformer backbone;

    protected Segmentor(Backend backend, DType dtype, ModelConfig config, Random r) {
        super(backend, dtype);
        this.config = config;
        this.backbone = child("backbone", new MixTransformer(backend, dtype, config.backbone(), r));
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

    /** Inference logits of one window at the input's size [B, K, H, W] (mmseg encode_decode). */
    public abstract Tensor encodeDecode(Tensor img);

    /**
     * Test-time logits at the input size: whole-image ({@code testCrop} 0) or mmseg's batched
     * slide inference (windows testCrop, stride testStride, logits averaged in overlaps).
     */
    public Tensor inference(Tensor img) {
        int h = img.dim(2), w = img.dim(3), crop = config.testCrop();
        if (crop == 0 || (h <= crop && w <= crop)) return encodeDecode(img);
        List<CropBox> boxes = CropBox.slide(h, w, crop, config.testStride());
        Tensor windows = F.catBatch(boxes.stream().map(b -> F.crop(img, b.top(), b.left(), b.height(), b.width())).toList());
        return averageWindows(encodeDecode(windows), boxes, img.dim(0), h, w);
    }

    /**
     * Sums per-window logits ([windows × B, K, h', w'], window-major) into a [B, K, h, w] grid and
     * divides by how many windows cover each pixel. Inference only: records no gradient.
     */
    protected static Tensor averageWindows(Tensor logits, List<CropBox> boxes, int batch, int h, int w) {
        Backend be = logits.backend();
        int k = logits.dim(1);
        Tensor sum = Tensor.zeros(be, logits.dtype(), batch, k, h, w);
        int[] count = new int[h * w];
        int planes = batch * k, all = boxes.size() * planes;
        for (int i = 0; i < boxes.size(); i++) {
            CropBox b = boxes.get(i);
            // window i is planes [i*B*K, (i+1)*B*K) of the window-major batch
            be.copyBox(logits, sum, new Box(1, all, b.height(), b.width(), i * planes, 0, 0, planes, h, w, 0, b.top(), b.left(),
                                            planes, b.height(), b.width()), true);
            for (int y = b.top(); y < b.top() + b.height(); y++) {
                for (int x = b.left(); x < b.left() + b.width(); x++) count[y * w + x]++;
            }
        }
        // 1/count as one plane, replicated on the device to every (sample, class) plane
        double[] inv = new double[h * w];
        for (int p = 0; p < inv.length; p++) inv[p] = 1.0 / count[p];
        Tensor plane = Tensor.empty(be, logits.dtype(), 1, 1, h, w);
        plane.copyFrom(inv);
        Tensor scale = Tensor.empty(be, logits.dtype(), batch, k, h, w);
        for (int i = 0; i < planes; i++) be.copyBox(plane, scale, new Box(1, 1, h, w, 0, 0, 0, planes, h, w, i, 0, 0, 1, h, w), false);
        be.mul(sum, scale, sum, false);
        return sum;
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
        for (DAFormerHead h : heads()) h.useCheckpoint(on);
    }

    /** The DAFormer-style heads of this model. */
    protected abstract List<DAFormerHead> heads();

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
