package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * mmseg's EncoderDecoder: any encoder and decode head, whole-image training and test (DAFormer,
 * source-only, RIPU's DeepLab-v2/v3+ on ResNet-101).
 */
public final class EncoderDecoder extends Segmentor {
    public final DecodeHead decodeHead;

    EncoderDecoder(Backend backend, DType dtype, ModelConfig config, Random r) {
        super(backend, dtype, config, r);
        decodeHead = child("decode_head", DecodeHead.create(backend, dtype, config.head(), r));
    }

    @Override
    protected List<DecodeHead> heads() {
        return List.of(decodeHead);
    }

    /** Logits at the head's stride (DAFormer and DeepLab-v3+: 4; DeepLab-v2 on ResNet: 8). */
    public Tensor logits(Tensor img) {
        List<Tensor> feats = backbone.forward(img);
        Tensor logits = decodeHead.forward(feats);
        Scope.done(feats);  // inference: the encoder's maps go before the resize
        return logits;
    }

    @Override
    public TrainOutput forwardTrain(Tensor img, Tensor label, Tensor weight, CropBox detailBox) {
        List<Tensor> feats = backbone.forward(img);
        Tensor logits = decodeHead.forward(feats);
        SegLoss loss = segLoss(logits, label, weight);
        Losses l = new Losses(loss.loss(), Map.of("decode.loss_seg", loss.loss()), Map.of("decode.acc_seg", loss.accuracy()));
        return new TrainOutput(l, logits, feats, null);
    }

    @Override
    public boolean alignCorners() {
        return decodeHead.alignCorners();
    }

    @Override
    public Tensor encodeDecode(Tensor img) {
        Tensor logits = logits(img);
        Tensor out = decodeHead.alignCorners() ? F.resizeAligned(logits, img.dim(2), img.dim(3)) : F.resize(logits, img.dim(2), img.dim(3));
        if (out != logits) Scope.done(logits);
        return out;
    }
}
