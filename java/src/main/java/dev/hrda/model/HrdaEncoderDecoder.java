package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.random.RandomGenerator;

/**
 * HRDA's multi-resolution encoder-decoder (hrda_encoder_decoder.py): a context crop (the whole
 * input ×0.5) and a full-resolution detail crop share one MiT encoder; the DAFormer head runs on
 * both, the scale attention on the context; fused = up(att)·hr + up((1−att)·lr) at stride 4.
 */
public final class HrdaEncoderDecoder extends Segmentor {
    /** Output stride of the heads. */
    static final int OS = 4;
    public final HrdaHead decodeHead;
    private final HrdaConfig hrda;

    HrdaEncoderDecoder(Backend backend, DType dtype, ModelConfig config, Random r) {
        super(backend, dtype, config, r);
        this.hrda = config.hrda();
        decodeHead = child("decode_head", new HrdaHead(backend, dtype, config, r));
        if (hrda.contextScale() != 0.5) throw new IllegalArgumentException("HRDA fusion upsamples by 2: context scale must be 0.5");
    }

    @Override
    protected List<DecodeHead> heads() {
        return List.of(decodeHead.head, decodeHead.scaleAttention);
    }

    /**
     * The parts of one HRDA training forward: the context and detail head logits, the scale
     * attention (masked to the detail box), the fused logits at stride 4 of the input, the box,
     * and the context crop's encoder features (what the ImageNet feature distance compares).
     */
    public record Outputs(Tensor lr, Tensor hr, Tensor att, Tensor fused, CropBox box, List<Tensor> contextFeatures) {}

    /**
     * Training-mode forward with the detail crop at {@code box} (input pixels, multiples of 8):
     * the encoder runs once on context and detail stacked (its LayerNorms see one sample at a
     * time, so this equals two passes), the heads run separately (their BatchNorms see each
     * scale's batch, as in the original).
     */
    public Outputs forwardTrainParts(Tensor img, CropBox box) {
        int b = img.dim(0);
        Tensor context = F.resizeByFactor(img, hrda.contextScale());
        Tensor detail = F.crop(img, box.top(), box.left(), box.height(), box.width());
        List<Tensor> lrFeats, hrFeats;
        if (context.dim(2) == detail.dim(2) && context.dim(3) == detail.dim(3)) {
            List<Tensor> both = backbone.forward(F.catBatch(List.of(context, detail)));
            lrFeats = new ArrayList<>(4);
            hrFeats = new ArrayList<>(4);
            for (Tensor f : both) {
                lrFeats.add(F.sliceBatch(f, 0, b));
                hrFeats.add(F.sliceBatch(f, b, b));
            }
        } else {
            lrFeats = backbone.forward(context);
            hrFeats = backbone.forward(detail);
        }
        Tensor lr = decodeHead.head.forward(lrFeats);
        Tensor hr = decodeHead.head.forward(hrFeats);
        Tensor att = decodeHead.attention(lrFeats, lr);
        Tensor fused = HrdaHead.fuse(lr, att, hr, box.scaled(OS));
        return new Outputs(lr, hr, att, fused, box, lrFeats);
    }

    @Override
    public CropBox randomDetailBox(int h, int w, RandomGenerator rng) {
        return CropBox.random(h, w, hrda.hrCropSize(), hrda.cropDivisible(), rng);
    }

    /** HRDA's feature_scale: the ImageNet feature distance compares the context crop's features (scale 0.5). */
    public double featureScale() {
        return hrda.contextScale();
    }

    @Override
    public TrainOutput forwardTrain(Tensor img, Tensor label, Tensor weight, CropBox detailBox) {
        if (detailBox == null) throw new IllegalArgumentException("HRDA training needs a detail crop box (randomDetailBox)");
        Outputs o = forwardTrainParts(img, detailBox);
        return new TrainOutput(losses(o, label, weight), o.fused(), o.contextFeatures(), o);
    }

    /** 0.9·CE(fused → label size) + 0.1·CE(detail → cropped label), with their accuracies. */
    public Losses losses(Outputs o, Tensor label, Tensor weight) {
        double hrW = hrda.hrLossWeight();
        SegLoss fused = segLoss(o.fused(), label, weight);
        Tensor fusedLoss = F.scale(fused.loss(), 1 - hrW);
        CropBox box = o.box();
        Tensor hrLabel = cropPixels(label, box), hrWeight = weight == null ? null : cropPixels(weight, box);
        SegLoss hr = segLoss(o.hr(), hrLabel, hrWeight);
        Tensor hrLoss = F.scale(hr.loss(), hrW);
        Map<String, Tensor> terms = new LinkedHashMap<>();
        terms.put("decode.loss_seg", fusedLoss);
        terms.put("decode.hr.loss_seg", hrLoss);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("decode.acc_seg", fused.accuracy());
        metrics.put("decode.hr.acc_seg", hr.accuracy());
        return new Losses(F.add(fusedLoss, hrLoss), terms, metrics);
    }

    private static Tensor cropPixels(Tensor map, CropBox box) {
        int b = map.dim(0), h = map.dim(1), w = map.dim(2);
        return F.crop(map.view(b, 1, h, w), box.top(), box.left(), box.height(), box.width()).view(b, box.height(), box.width());
    }

    /**
     * HRDA inference (encode_decode): context = input ×0.5; detail = overlapping windows of the
     * crop size with stride crop/2, batched through the encoder, head logits averaged in the
     * overlaps; fused without a mask; resized to the input.
     */
    @Override
    public Tensor encodeDecode(Tensor img) {
        Tensor fused = fusedInference(img);
        Tensor out = F.resize(fused, img.dim(2), img.dim(3));
        if (out != fused) Scope.done(fused);
        return out;
    }

    /**
     * What HRDA's inference returns: the fused logits, or (test.py --hrda-out ATT, hrda_head.py's
     * debug_output_attention) the attention map sum_k up2(att)_k * softmax(fused)_k, one channel:
     * where the prediction follows the detail branch. The slide test averages either over windows.
     */
    public enum TestOutput { LOGITS, ATTENTION }

    private TestOutput testOutput = TestOutput.LOGITS;

    public void setTestOutput(TestOutput o) {
        testOutput = o;
    }

    /**
     * The fused logits at stride 4 (before the final resize), or the attention map in
     * {@link TestOutput#ATTENTION} mode. The detail windows run {@link #windowBatch} at a time;
     * without a tape every intermediate is freed after its last reader.
     */
    public Tensor fusedInference(Tensor img) {
        int h = img.dim(2), w = img.dim(3);
        Tensor context = F.resizeByFactor(img, hrda.contextScale());
        List<Tensor> lrFeats = backbone.forward(context);
        if (context != img) Scope.done(context);
        Tensor lr = decodeHead.head.forward(lrFeats);
        Tensor att = decodeHead.attention(lrFeats, lr);
        Scope.done(lrFeats);
        Tensor hr;
        int crop = hrda.hrCropSize();
        if (hrda.hrSlideInference()) {
            hr = slide(img, CropBox.slide(h, w, crop, crop / 2), OS, this::detailLogits);
        } else {
            hr = detailLogits(img);
        }
        Tensor fused = HrdaHead.fuse(lr, att, hr, new CropBox(0, 0, h / OS, w / OS));
        Scope.done(hr);
        Scope.done(lr);
        if (testOutput == TestOutput.LOGITS) {
            Scope.done(att);
            return fused;
        }
        Tensor weighted = F.mul(F.resize(att, fused.dim(2), fused.dim(3)), F.softmax(fused, 1));
        int k = weighted.dim(1);
        Tensor ones = Tensor.full(weighted.backend(), weighted.dtype(), 1, 1, k, 1, 1);
        return F.conv2d(weighted, ones, null, 1, 0, 1, 1);  // the sum over the classes
    }

    /** The DAFormer head's logits of full-resolution input (the detail branch). */
    private Tensor detailLogits(Tensor x) {
        List<Tensor> feats = backbone.forward(x);
        Tensor logits = decodeHead.head.forward(feats);
        Scope.done(feats);
        return logits;
    }
}
