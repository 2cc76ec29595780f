package dev.hrda.eval;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.data.Dataset;
import dev.hrda.data.Images;
import dev.hrda.data.Pipeline;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.Sample;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;


/**
 * mmseg's single-image test (tools/test.py: test pipeline, {@code simple_test} with rescale):
 * the image is resized keeping its aspect ratio to the test scale (mmcv rescale: factor =
 * min(long/long_edge, short/short_edge), bilinear) and normalised; the model's
 * {@link Segmentor#inference} gives logits (whole image, or the slide test, as its config says);
 * they are resized bilinearly (align_corners=False; True for RIPU's DeepLab heads, as its
 * test.py) to the original image size and the class of each pixel is their argmax. The ground
 * truth stays at its original size.
 *
 * Every tensor of one image lives in an arena closed before {@link #predict} returns, so a long
 * evaluation holds no more device memory after its thousandth image than after its first.
 */
public final class Predictor {
    /**
     * One image's result at its original size.
     *
     * @param classes predicted class per pixel, row-major
     * @param label   the ground-truth train ids (255 = ignore), or null without a label
     * @param bgr     the original image (BGR, interleaved) where asked for, else null
     */
    public record Prediction(Dataset.Item item, int width, int height, byte[] classes, byte[] label, byte[] bgr) {}

    private final Segmentor model;
    private final Pipeline pipeline;
    private final Backend backend;
    private final DType dtype;
    private final boolean flip;

    /**
     * Puts the model in evaluation mode (BatchNorm running statistics, no dropout), as mmseg's
     * test does.
     *
     * @param scaleW test scale (mmcv img_scale), e.g. 2048 for HRDA, 1024 for DAFormer
     * @param scaleH e.g. 1024 for HRDA, 512 for DAFormer
     */
    public Predictor(Segmentor model, int scaleW, int scaleH) {
        this(model, scaleW, scaleH, false);
    }

    /**
     * With {@code flip}, test-time flip averaging (mmseg's MultiScaleFlipAug flip=True, RIPU's
     * test.py): the mirrored image is predicted too, and the two softmax outputs (the mirrored
     * one mirrored back) are averaged before the arg-max.
     */
    public Predictor(Segmentor model, int scaleW, int scaleH, boolean flip) {
        this(model, scaleW, scaleH, flip, PipelineConfig.Interpolation.BILINEAR);
    }

    /** With the test pipeline's Resize interpolation (RIPU's test transform resizes bicubically). */
    public Predictor(Segmentor model, int scaleW, int scaleH, boolean flip, PipelineConfig.Interpolation interpolation) {
        this.flip = flip;
        if (model.config.numClasses() > ConfusionMatrix.IGNORE) throw new IllegalArgumentException("more than 255 classes do not fit a byte");
        this.model = model;
        // labels are read where an item has one (at their original size), never required here
        this.pipeline = new Pipeline(PipelineConfig.test(scaleW, scaleH).withLabel(false).withInterpolation(interpolation));
        Tensor anyParameter = model.parameters().get(0);
        this.backend = anyParameter.backend();
        this.dtype = anyParameter.dtype();
        model.train(false);
    }

    public PipelineConfig config() { return pipeline.config(); }

    /** Predicts one image (and reads its label where the item has one); with {@code keepImage} the original pixels too. */
    public Prediction predict(Dataset.Item item, boolean keepImage) {
        try (Pipeline.Prepared p = pipeline.prepare(item.image(), item.label())) {
            Sample s = pipeline.finish(p, new int[] {0, 0, p.height(), p.width()}, false);
            int w = p.originalWidth(), h = p.originalHeight();
            byte[] classes = classify(s.image(), s.height(), s.width(), h, w);
            return new Prediction(item, w, h, classes, s.label(), keepImage ? Images.toBytes(p.image()) : null);
        }
    }

    /** Classes of a normalised CHW image, predicted at its size and compared at {@code outH x outW}. */
    public byte[] classify(float[] chw, int height, int width, int outH, int outW) {
        // with a recording tape, the parameters (which require gradients) would put every op on it
        if (Tape.recording()) throw new IllegalStateException("test-time inference must run without a recording tape");
        try (Arena image = Arena.open()) {
            Tensor img = Tensor.empty(backend, dtype, 1, 3, height, width);
            img.copyFrom(chw);
            Tensor logits = resized(model.inference(img), outH, outW);
            Scope.done(img);
            if (!flip) return argmax(logits);
            Tensor prob = F.softmax(logits, 1);
            Scope.done(logits);
            Tensor mirrored = Tensor.empty(backend, dtype, 1, 3, height, width);
            mirrored.copyFrom(mirror(chw, height, width));
            Tensor back = F.flipW(model.inference(mirrored));  // mirrored back at the logits' resolution
            Scope.done(mirrored);
            Tensor prob2 = F.softmax(resized(back, outH, outW), 1);
            Tensor sum = F.add(prob, prob2);  // the arg-max of the sum is that of the average
            Scope.done(List.of(prob, prob2));
            return argmax(sum);
        }
    }

    /** Logits at outH x outW, resized with the model's rule (align_corners True for RIPU's heads). */
    private Tensor resized(Tensor logits, int outH, int outW) {
        if (logits.dim(2) == outH && logits.dim(3) == outW) return logits;
        Tensor r = model.alignCorners() ? F.resizeAligned(logits, outH, outW) : F.resize(logits, outH, outW);
        Scope.done(logits);
        return r;
    }

    /** A CHW image mirrored along its width. */
    static float[] mirror(float[] chw, int height, int width) {
        float[] out = new float[chw.length];
        for (int r = 0; r < chw.length / width; r++) {
            int o = r * width;
            for (int x = 0; x < width; x++) out[o + x] = chw[o + width - 1 - x];
        }
        return out;
    }

    /**
     * Index of the largest of the K logits of each pixel of a [1, K, H, W] tensor (the first one
     * on ties, as torch.argmax), computed where the logits are (the arg-max of the pseudo-label
     * op): only the H·W class indices come to the host (8 MB at 2048×1024), not the K·H·W logits.
     */
    public static byte[] argmax(Tensor logits) {
        if (logits.rank() != 4 || logits.dim(0) != 1) throw new IllegalArgumentException("argmax of one image [1, K, H, W], got " + logits.describe());
        int k = logits.dim(1), h = logits.dim(2), w = logits.dim(3);
        if (k > ConfusionMatrix.IGNORE) throw new IllegalArgumentException(k + " classes do not fit a byte");
        Backend be = logits.backend();
        int[] classes;
        try (Tensor label = Tensor.empty(be, DType.I32, 1, h, w); Tensor confident = Tensor.empty(be, DType.I32, 1)) {
            be.pseudoLabel(logits, label, null, confident, 2, 1, k, (long) h * w);  // threshold 2: no pixel counts, none needed
            classes = label.toIntArray();
        }
        byte[] best = new byte[classes.length];
        for (int i = 0; i < best.length; i++) best[i] = (byte) classes[i];
        return best;
    }
}
