"""Build the tiny MiT/DAFormer/HRDA test fixtures for the Java engine.

Regenerate (from the repository root, numpy >= 1.17, no torch):

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 tools/reference/make_model_fixtures.py

This writes

    java/src/test/resources/model/tiny_daformer.safetensors
    java/src/test/resources/model/tiny_hrda.safetensors

Weights are seeded random (numpy PCG64 default_rng), stored under their
exact mmseg state-dict names in registration order; test tensors are named
``test.*`` and follow the weights. Expected outputs are computed in float64
by tools/reference/hrda_reference.py and stored as F32. The tiny config is
stored as a JSON string in ``__metadata__["config"]``. The output is
byte-identical between runs (single-threaded BLAS is forced below; the
fixed tensor order and compact JSON make the header deterministic).
"""

import json
import os
import sys

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hrda_reference as R  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT_DIR = os.path.join(ROOT, 'java', 'src', 'test', 'resources', 'model')

TINY_MIT = dict(embed_dims=[16, 32, 48, 64], num_heads=[1, 2, 3, 4],
                depths=[2, 1, 1, 1], sr_ratios=[8, 4, 2, 1], mlp_ratio=4,
                in_chans=3)
TINY_HEAD = dict(in_channels=[16, 32, 48, 64], channels=16, embed_dims=16,
                 num_classes=5, dilations=[1, 6, 12, 18])
TINY_ATT_EMBED = 16  # HRDAHead attention_embed_dim for the tiny model


def init_weights(shapes, rng):
    """Random weights that keep activations O(1)."""
    sd = {}
    for name, shape, role in shapes:
        if role == 'w':
            fan_in = int(np.prod(shape[1:]))
            v = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif role == 'b':
            v = 0.1 * rng.standard_normal(shape)
        elif role == 'nw':
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        elif role == 'nb':
            v = 0.1 * rng.standard_normal(shape)
        elif role == 'rm':
            v = 0.2 * rng.standard_normal(shape)
        elif role == 'rv':
            v = rng.uniform(0.5, 1.5, shape)
        elif role == 'nbt':
            v = np.array(int(rng.integers(1, 100000)), dtype=np.int64)
        else:
            raise ValueError(role)
        if role != 'nbt':
            # the model runs on the F32 values that are stored
            v = v.astype(np.float32).astype(np.float64)
        sd[name] = v
    return sd


def weight_tensors(shapes, sd):
    return [(n, sd[n], 'I64' if r == 'nbt' else 'F32') for n, _, r in shapes]


def f32_input(rng, shape):
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


def make_daformer(path):
    rng = np.random.default_rng(20240611)
    shapes = R.mit_shapes(TINY_MIT, 'backbone.') + \
        R.daformer_head_shapes(TINY_HEAD, 'decode_head.', 'aspp')
    sd = init_weights(shapes, rng)
    x = f32_input(rng, (2, 3, 64, 64))
    feats = R.mit_forward(sd, x, TINY_MIT, 'backbone.')
    logits = R.daformer_head_forward(sd, feats, TINY_HEAD, 'decode_head.',
                                     'aspp')
    tensors = weight_tensors(shapes, sd)
    tensors.append(('test.input', x, 'F32'))
    for i, f in enumerate(feats):
        tensors.append((f'test.feat{i}', f, 'F32'))
    tensors.append(('test.logits', logits, 'F32'))
    config = dict(
        model='EncoderDecoder(mit + DAFormerHead sep-ASPP)',
        backbone=dict(type='MixVisionTransformer', qkv_bias=True,
                      ln_eps_block=R.LN_EPS_BLOCK,
                      ln_eps_patch_embed_and_sr=R.LN_EPS_DEFAULT,
                      **TINY_MIT),
        decode_head=dict(type='DAFormerHead', fusion='aspp', sep=True,
                         pool=False, bn_eps=R.BN_EPS, align_corners=False,
                         **TINY_HEAD),
        tests=dict(input='test.input [N,3,H,W]',
                   feats='test.feat0..3 = backbone outputs (NCHW)',
                   logits='test.logits = decode_head output at stride 4'),
        eval_mode=True)
    R.write_safetensors(path, tensors, {'config': json.dumps(
        config, sort_keys=True, separators=(',', ':'))})
    return tensors


def make_hrda(path):
    rng = np.random.default_rng(20240612)
    att_cfg = R.attention_head_cfg(TINY_HEAD, TINY_ATT_EMBED, True)
    shapes = R.mit_shapes(TINY_MIT, 'backbone.') + \
        R.hrda_head_shapes(TINY_HEAD, 'decode_head.', TINY_ATT_EMBED, True)
    sd = init_weights(shapes, rng)
    x = f32_input(rng, (1, 3, 128, 128))
    hr_crop = (64, 64)
    top, left = 32, 24
    box = (top, top + hr_crop[0], left, left + hr_crop[1])
    tr = R.hrda_train_forward(sd, x, box, TINY_MIT, TINY_HEAD, att_cfg)
    slide = R.hrda_slide_inference(sd, x, TINY_MIT, TINY_HEAD, att_cfg,
                                   hr_crop)
    tensors = weight_tensors(shapes, sd)
    tensors += [
        ('test.input', x, 'F32'),
        ('test.box', np.array([top, left], dtype=np.int64), 'I64'),
        ('test.lr_seg', tr['lr_seg'], 'F32'),
        ('test.hr_seg', tr['hr_seg'], 'F32'),
        ('test.att', tr['att'], 'F32'),
        ('test.fused', tr['fused'], 'F32'),
        ('test.slide_fused', slide, 'F32'),
    ]
    config = dict(
        model='HRDAEncoderDecoder(mit + HRDAHead(DAFormerHead))',
        backbone=dict(type='MixVisionTransformer', qkv_bias=True,
                      ln_eps_block=R.LN_EPS_BLOCK,
                      ln_eps_patch_embed_and_sr=R.LN_EPS_DEFAULT,
                      **TINY_MIT),
        decode_head=dict(type='HRDAHead', single_scale_head='DAFormerHead',
                         attention_classwise=True,
                         attention_embed_dim=TINY_ATT_EMBED,
                         head=dict(type='DAFormerHead', fusion='aspp',
                                   sep=True, pool=False, bn_eps=R.BN_EPS,
                                   align_corners=False, **TINY_HEAD),
                         scale_attention=dict(type='DAFormerHead',
                                              fusion='conv',
                                              kernel_size=1,
                                              bn_eps=R.BN_EPS,
                                              align_corners=False,
                                              **{k: v for k, v in
                                                 att_cfg.items()
                                                 if k != 'dilations'})),
        scales=[0.5, 1.0], hr_crop_size=list(hr_crop), output_stride=4,
        crop_coord_divisible=8, hr_slide_inference=True,
        hr_slide_overlapping=True,
        tests=dict(
            input='test.input [1,3,128,128] full-resolution crop',
            box='test.box = [top, left] of the 64x64 detail crop (pixels)',
            lr_seg='head(mit(resize(input, x0.5))) raw logits, stride 4 of '
                   'the context (16x16)',
            hr_seg='head(mit(crop(input, box))) (16x16)',
            att='sigmoid(scale_attention(context feats)), unmasked (16x16)',
            fused='training-style fusion with the box mask (32x32, stride '
                  '4 of the input)',
            slide_fused='encode_decode fusion: context + 3x3 overlapping '
                        'detail windows 64/stride 32, averaged, no mask, '
                        'stride 4 (32x32), before resize to input size'),
        eval_mode=True)
    R.write_safetensors(path, tensors, {'config': json.dumps(
        config, sort_keys=True, separators=(',', ':'))})
    return tensors


def main(out_dir=OUT_DIR):
    os.makedirs(out_dir, exist_ok=True)
    for fn, mk in (('tiny_daformer.safetensors', make_daformer),
                   ('tiny_hrda.safetensors', make_hrda)):
        p = os.path.join(out_dir, fn)
        tensors = mk(p)
        print(f'{p}: {os.path.getsize(p)} bytes, {len(tensors)} tensors')


if __name__ == '__main__':
    # optional argument: output folder (default java/src/test/resources/model)
    main(sys.argv[1] if len(sys.argv) > 1 else OUT_DIR)
