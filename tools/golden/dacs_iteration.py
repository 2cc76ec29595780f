#!/usr/bin/python3
"""Golden DACS + HRDA (+ MIC) training iterations in PyTorch: the oracle of the Java loop.

Written by us from ../shared/reference/hrda_spec.md §1-§4 and the original sources (lhoyer/MIC
seg/mmseg/models/uda/dacs.py, masking_consistency_module.py, utils/masking_transforms.py,
utils/dacs_transforms.py, segmentors/hrda_encoder_decoder.py, decode_heads/hrda_head.py,
daformer_head.py, backbones/mix_transformer.py); the network is a torch port of
tools/reference/hrda_reference.py (same functions, same mmseg state-dict names), so autograd
gives the backward pass. No original code is copied. The semantics are those of the Java loop
(tools/golden/README.md lists where they differ from the original).

    /usr/bin/python3 tools/golden/dacs_iteration.py                 # writes both fixtures
    /usr/bin/python3 tools/golden/dacs_iteration.py --out-dir DIR   # elsewhere (reproducibility check)
    /usr/bin/python3 tools/golden/dacs_iteration.py --bench daformer_mitb0 [--iters N] [--threads 2]

The model is functional: a state is a dict {mmseg key: tensor}; parameters are leaf tensors
with requires_grad, BN running statistics plain tensors updated in place by F.batch_norm.
"""

import argparse
import json
import math
import os
import resource
import sys
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'reference'))
import hrda_reference as R  # noqa: E402

OUT_DIR = os.path.join(ROOT, 'java', 'src', 'test', 'resources', 'golden')

# ----------------------------------------------------------------------------------------------
# Configurations
# ----------------------------------------------------------------------------------------------

# half the widths of tools/reference's mit_tiny (head dim 8 everywhere): the fixtures stay small
TINY_MIT = dict(embed_dims=[8, 16, 24, 32], num_heads=[1, 2, 3, 4], depths=[2, 1, 1, 1],
                sr_ratios=[8, 4, 2, 1], mlp_ratio=4, in_chans=3)
TINY_HEAD = dict(in_channels=[8, 16, 24, 32], channels=16, embed_dims=16, num_classes=5,
                 dilations=[1, 6, 12, 18])
B0_HEAD = dict(in_channels=[32, 64, 160, 256], channels=256, embed_dims=256, num_classes=19,
               dilations=[1, 6, 12, 18])

# mmseg img_norm_cfg (float32 in mmseg; the Java op takes floats)
MEAN32 = np.array([123.675, 116.28, 103.53], np.float32)
STD32 = np.array([58.395, 57.12, 57.375], np.float32)

DROP_PATH_RATE = 0.1
DROPOUT_RATIO = 0.1
BN_MOMENTUM = 0.1
BN_EPS = 1e-5
IGNORE = 255
CUSTOM_KEYS = {'head': {'lr_mult': 10.0}, 'pos_block': {'decay_mult': 0.0},
               'norm': {'decay_mult': 0.0}}


class Spec:
    """One model: 'hrda' (HRDAEncoderDecoder + HRDAHead) or 'daformer' (EncoderDecoder)."""

    def __init__(self, name, kind, mit, head, att_embed=None, hr_crop=None, crop_divisible=8,
                 context_scale=0.5, hr_loss_weight=0.1):
        self.name, self.kind, self.mit, self.head = name, kind, mit, head
        self.hrda = kind == 'hrda'
        self.num_classes = head['num_classes']
        self.att_embed, self.hr_crop, self.crop_divisible = att_embed, hr_crop, crop_divisible
        self.context_scale, self.hr_loss_weight = context_scale, hr_loss_weight
        if self.hrda:
            self.att_cfg = R.attention_head_cfg(head, att_embed)
            head_shapes = R.hrda_head_shapes(head, 'decode_head.', att_embed)
        else:
            self.att_cfg = None
            head_shapes = R.daformer_head_shapes(head, 'decode_head.')
        self.mit_shapes = R.mit_shapes(mit)
        self.shapes = self.mit_shapes + head_shapes
        self.param_names = [n for n, _, r in self.shapes if r not in ('rm', 'rv', 'nbt')]
        self.buffer_names = [n for n, _, r in self.shapes if r in ('rm', 'rv')]
        self.state_names = [n for n, _, r in self.shapes if r != 'nbt']
        self.backbone_param_names = [n for n, _, r in self.mit_shapes]
        self.seg_prefix = 'decode_head.head.' if self.hrda else 'decode_head.'


SPECS = {
    'tiny_hrda': Spec('tiny_hrda', 'hrda', TINY_MIT, TINY_HEAD, att_embed=16, hr_crop=48),
    'tiny_daformer': Spec('tiny_daformer', 'daformer', TINY_MIT, TINY_HEAD),
    'hrda_mitb0': Spec('hrda_mitb0', 'hrda', R.MIT_B0, B0_HEAD, att_embed=256, hr_crop=512),
    'daformer_mitb0': Spec('daformer_mitb0', 'daformer', R.MIT_B0, B0_HEAD),
}


def drop_path_rates(depths, rate=DROP_PATH_RATE):
    """Per block, as the Java MixTransformer: (float)(rate * cur / (total - 1)) (torch.linspace)."""
    total = sum(depths)
    return [np.float32(rate * cur / (total - 1)) if total > 1 else np.float32(0)
            for cur in range(total)]


# ----------------------------------------------------------------------------------------------
# Dropout randomness: java.util.SplittableRandom seeds and the native counter-based hash
# ----------------------------------------------------------------------------------------------

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def to_signed64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


class SplitMix64:
    """java.util.SplittableRandom(seed).nextLong() (gamma = the golden gamma)."""

    def __init__(self, seed):
        self.state = seed & M64

    def next_long(self):
        self.state = (self.state + GOLDEN) & M64
        return mix64(self.state)  # the unsigned bits of the Java long


def hrda_uniform(seed, n):
    """native/include/hrda/common.h hrda_uniform(seed, index) for index 0..n-1, float32."""
    idx = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over='ignore'):
        z = np.uint64(seed & M64) + np.uint64(GOLDEN) * idx
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def dropout_scale(p32, dtype):
    """Java/native: (T)1 / ((T)1 - (T)p) with p a float."""
    if dtype == torch.float64:
        return 1.0 / (1.0 - float(p32))
    return float(np.float32(1) / (np.float32(1) - p32))


class Dropout:
    """The dropout sites of one iteration: F.seed(seed), then every active site (p > 0) takes
    rng.nextLong() in forward order; element i is kept iff hrda_uniform(seed, i // group) >= p."""

    def __init__(self, seed):
        self.rng = SplitMix64(seed)
        self.prefix = ''
        self.sites = []  # [site, p, kind, groups, seed (signed), kept]

    def __call__(self, x, p, kind, name):
        p32 = np.float32(p)
        if p32 == 0:
            return x  # takes no seed
        seed = self.rng.next_long()
        if kind == 'sample':      # DropPath: group = numel / batch
            shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        elif kind == 'channel':   # Dropout2d on NCHW: group = H * W
            shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2)
        else:                     # dropout: group = 1
            shape = tuple(x.shape)
        groups = int(np.prod(shape))
        keep = hrda_uniform(seed, groups) >= p32
        m = torch.from_numpy(keep.astype(np.float64) * dropout_scale(p32, x.dtype))
        self.sites.append([self.prefix + name, float(p32), kind, groups, to_signed64(seed),
                           int(keep.sum())])
        return x * m.to(x.dtype).reshape(shape)


# ----------------------------------------------------------------------------------------------
# Network (functional port of tools/reference/hrda_reference.py)
# ----------------------------------------------------------------------------------------------

def layer_norm(x, S, p, eps):
    return F.layer_norm(x, (x.shape[-1],), S[p + '.weight'], S[p + '.bias'], eps)


def to_map(t, h, w):
    n, _, c = t.shape
    return t.transpose(1, 2).reshape(n, c, h, w)


def to_tokens(x):
    return x.flatten(2).transpose(1, 2)


def attention(S, p, x, h, w, num_heads, sr):
    n, l, c = x.shape
    hd = c // num_heads
    q = F.linear(x, S[p + '.q.weight'], S[p + '.q.bias'])
    q = q.reshape(n, l, num_heads, hd).permute(0, 2, 1, 3)
    if sr > 1:
        xr = F.conv2d(to_map(x, h, w), S[p + '.sr.weight'], S[p + '.sr.bias'], stride=sr)
        xr = layer_norm(to_tokens(xr), S, p + '.norm', R.LN_EPS_DEFAULT)
    else:
        xr = x
    kv = F.linear(xr, S[p + '.kv.weight'], S[p + '.kv.bias'])
    kv = kv.reshape(n, kv.shape[1], 2, num_heads, hd).permute(2, 0, 3, 1, 4)
    k, v = kv[0], kv[1]
    att = ((q @ k.transpose(-2, -1)) * hd ** -0.5).softmax(dim=-1)
    o = (att @ v).transpose(1, 2).reshape(n, l, c)
    return F.linear(o, S[p + '.proj.weight'], S[p + '.proj.bias'])


def mix_ffn(S, p, x, h, w):
    y = F.linear(x, S[p + '.fc1.weight'], S[p + '.fc1.bias'])
    ym = to_map(y, h, w)
    ym = F.conv2d(ym, S[p + '.dwconv.dwconv.weight'], S[p + '.dwconv.dwconv.bias'], padding=1,
                  groups=ym.shape[1])
    return F.linear(F.gelu(to_tokens(ym)), S[p + '.fc2.weight'], S[p + '.fc2.bias'])


def mit_forward(S, x, cfg, drop=None, prefix='backbone.'):
    """MixVisionTransformer.forward_features; drop=None is eval mode (no drop path)."""
    rates = drop_path_rates(cfg['depths'])
    outs, cur = [], 0
    for i in range(4):
        k, s = (7, 4) if i == 0 else (3, 2)
        pe = f'{prefix}patch_embed{i + 1}'
        y = F.conv2d(x, S[pe + '.proj.weight'], S[pe + '.proj.bias'], stride=s, padding=k // 2)
        n, c, h, w = y.shape
        t = layer_norm(to_tokens(y), S, pe + '.norm', R.LN_EPS_DEFAULT)
        for j in range(cfg['depths'][i]):
            bp = f'{prefix}block{i + 1}.{j}'
            p = rates[cur]
            cur += 1
            a = attention(S, bp + '.attn', layer_norm(t, S, bp + '.norm1', R.LN_EPS_BLOCK), h, w,
                          cfg['num_heads'][i], cfg['sr_ratios'][i])
            if drop is not None:
                a = drop(a, p, 'sample', bp + '.drop_path.attn')
            t = t + a
            m = mix_ffn(S, bp + '.mlp', layer_norm(t, S, bp + '.norm2', R.LN_EPS_BLOCK), h, w)
            if drop is not None:
                m = drop(m, p, 'sample', bp + '.drop_path.mlp')
            t = t + m
        t = layer_norm(t, S, f'{prefix}norm{i + 1}', R.LN_EPS_BLOCK)
        x = to_map(t, h, w)
        outs.append(x)
    return outs


def batch_norm(S, p, x, train):
    """train: batch statistics, running stats updated (momentum 0.1, unbiased var); else eval."""
    return F.batch_norm(x, S[p + '.running_mean'], S[p + '.running_var'], S[p + '.weight'],
                        S[p + '.bias'], training=train, momentum=BN_MOMENTUM, eps=BN_EPS)


def conv_module(S, p, x, train, padding=0, dilation=1, groups=1):
    y = F.conv2d(x, S[p + '.conv.weight'], None, padding=padding, dilation=dilation,
                 groups=groups)
    return F.relu(batch_norm(S, p + '.bn', y, train))


def daformer_head(S, feats, hcfg, prefix, fusion, train, drop=None):
    """DAFormerHead.forward (+ cls_seg: Dropout2d(0.1) then conv_seg). fusion 'aspp' or 'conv'."""
    size = feats[0].shape[2:]
    cs = []
    for i, f in enumerate(feats):
        q = f'{prefix}embed_layers.{i}.proj'
        e = to_map(F.linear(to_tokens(f), S[q + '.weight'], S[q + '.bias']), f.shape[2],
                   f.shape[3])
        if e.shape[2:] != size:
            e = F.interpolate(e, size=size, mode='bilinear', align_corners=False)
        cs.append(e)
    x = torch.cat(cs, dim=1)
    if fusion == 'aspp':
        f = prefix + 'fuse_layer'
        outs = []
        for k, d in enumerate(hcfg['dilations']):
            q = f'{f}.aspp_modules.{k}'
            if d == 1:
                outs.append(conv_module(S, q, x, train))
            else:
                y = conv_module(S, q + '.depthwise_conv', x, train, padding=d, dilation=d,
                                groups=x.shape[1])
                outs.append(conv_module(S, q + '.pointwise_conv', y, train))
        x = conv_module(S, f + '.bottleneck', torch.cat(outs, dim=1), train, padding=1)
    else:
        x = conv_module(S, prefix + 'fuse_layer', x, train)
    if drop is not None:
        x = drop(x, DROPOUT_RATIO, 'channel', prefix + 'dropout')
    return F.conv2d(x, S[prefix + 'conv_seg.weight'], S[prefix + 'conv_seg.bias'])


def resize(x, size=None, scale_factor=None):
    return F.interpolate(x, size=size, scale_factor=scale_factor, mode='bilinear',
                         align_corners=False)


def hrda_fuse(lr, hr, att, box, crop, os=4, lr_scale=0.5):
    """HRDAHead.forward after the heads. box = (top, left) of the crop x crop detail box in input
    pixels (training: att masked to box / 8, hr inserted at box / 4) or None (inference)."""
    if box is not None:
        y1, y2, x1, x2 = R.scale_box((box[0], box[0] + crop, box[1], box[1] + crop), os / lr_scale)
        mask = torch.zeros((lr.shape[0], 1) + tuple(lr.shape[2:]), dtype=lr.dtype)
        mask[:, :, y1:y2, x1:x2] = 1
        att = att * mask
    up_lr = resize((1 - att) * lr, scale_factor=2)
    att_up = resize(att, scale_factor=2)
    if box is not None:
        y1, y2, x1, x2 = R.scale_box((box[0], box[0] + crop, box[1], box[1] + crop), os)
        H, W = up_lr.shape[2:]
        hr = F.pad(hr, (x1, W - x2, y1, H - y2))
    return att_up * hr + up_lr


# ----------------------------------------------------------------------------------------------
# Segmentor forwards and losses
# ----------------------------------------------------------------------------------------------

def seg_loss(logits, label, weight):
    """mmseg 0.16 decode_head.losses: bilinear to the label size, CE(ignore 255, reduction none)
    times the weight, mean over all pixels. Also the accuracy (percent of non-ignored pixels)."""
    up = resize(logits, size=tuple(label.shape[1:]))
    ce = F.cross_entropy(up, label, reduction='none', ignore_index=IGNORE)
    if weight is not None:
        ce = ce * weight
    with torch.no_grad():
        valid = label != IGNORE
        correct = (up.argmax(dim=1) == label) & valid
        acc = 100.0 * correct.sum().double() / max(int(valid.sum()), 1)
    return ce.mean(), acc


def crop_map(m, box, size):
    return m[:, box[0]:box[0] + size, box[1]:box[1] + size]


def train_forward(spec, S, img, label, weight, box, drop):
    """Student training forward. Returns ({mmseg name: tensor}, last-stage features for FD
    (HRDA: the context half of the batched encoder output))."""
    if not spec.hrda:
        feats = mit_forward(S, img, spec.mit, drop)
        logits = daformer_head(S, feats, spec.head, 'decode_head.', 'aspp', True, drop)
        loss, acc = seg_loss(logits, label, weight)
        return {'decode.loss_seg': loss, 'decode.acc_seg': acc}, feats[-1]
    b, c = img.shape[0], spec.hr_crop
    ctx = resize(img, scale_factor=spec.context_scale)
    det = img[:, :, box[0]:box[0] + c, box[1]:box[1] + c]
    if ctx.shape == det.shape:  # one encoder pass on [context (B), detail (B)]
        both = mit_forward(S, torch.cat([ctx, det]), spec.mit, drop)
        lr_f, hr_f = [f[:b] for f in both], [f[b:] for f in both]
    else:
        lr_f = mit_forward(S, ctx, spec.mit, drop)
        hr_f = mit_forward(S, det, spec.mit, drop)
    lr = daformer_head(S, lr_f, spec.head, 'decode_head.head.', 'aspp', True, drop)
    hr = daformer_head(S, hr_f, spec.head, 'decode_head.head.', 'aspp', True, drop)
    att = torch.sigmoid(daformer_head(S, lr_f, spec.att_cfg, 'decode_head.scale_attention.',
                                      'conv', True, drop))
    fused = hrda_fuse(lr, hr, att, box, c)
    w = 1.0 - spec.hr_loss_weight
    loss, acc = seg_loss(fused, label, weight)
    hr_loss, hr_acc = seg_loss(hr, crop_map(label, box, c),
                               None if weight is None else crop_map(weight, box, c))
    return {'decode.loss_seg': w * loss, 'decode.acc_seg': acc,
            'decode.hr.loss_seg': spec.hr_loss_weight * hr_loss, 'decode.hr.acc_seg': hr_acc}, \
        lr_f[-1]


def hrda_parts_eval(spec, S, img, box):
    """Eval-mode HRDA training forward (BN running stats, no dropout) for the self-check."""
    b, c = img.shape[0], spec.hr_crop
    ctx = resize(img, scale_factor=spec.context_scale)
    det = img[:, :, box[0]:box[0] + c, box[1]:box[1] + c]
    both = mit_forward(S, torch.cat([ctx, det]), spec.mit)
    lr_f, hr_f = [f[:b] for f in both], [f[b:] for f in both]
    lr = daformer_head(S, lr_f, spec.head, 'decode_head.head.', 'aspp', False)
    hr = daformer_head(S, hr_f, spec.head, 'decode_head.head.', 'aspp', False)
    att = torch.sigmoid(daformer_head(S, lr_f, spec.att_cfg, 'decode_head.scale_attention.',
                                      'conv', False))
    return dict(lr_seg=lr, hr_seg=hr, att=att, fused=hrda_fuse(lr, hr, att, box, c))


def average_windows(logits, boxes, b, num_classes, os=4):
    """HRDAHead.decode_hr: window logits (window-major batch) summed into a canvas / count."""
    sb = [R.scale_box(x, os) for x in boxes]
    h, w = max(x[1] for x in sb), max(x[3] for x in sb)
    preds = torch.zeros((b, num_classes, h, w), dtype=logits.dtype)
    count = torch.zeros((b, 1, h, w), dtype=logits.dtype)
    for i, (y1, y2, x1, x2) in enumerate(sb):
        preds[:, :, y1:y2, x1:x2] += logits[i * b:(i + 1) * b]
        count[:, :, y1:y2, x1:x2] += 1
    assert (count == 0).sum() == 0
    return preds / count


def encode_decode(spec, S, img, bn_train):
    """Teacher inference (no mask; HRDA slide windows of hr_crop, stride hr_crop / 2), resized
    to the input. Module order: MiT(context), head(lr), att head(lr), MiT(windows), head(windows)."""
    H, W = img.shape[2:]
    if not spec.hrda:
        logits = daformer_head(S, mit_forward(S, img, spec.mit), spec.head, 'decode_head.',
                               'aspp', bn_train)
        return resize(logits, size=(H, W))
    b, c = img.shape[0], spec.hr_crop
    lr_f = mit_forward(S, resize(img, scale_factor=spec.context_scale), spec.mit)
    lr = daformer_head(S, lr_f, spec.head, 'decode_head.head.', 'aspp', bn_train)
    att = torch.sigmoid(daformer_head(S, lr_f, spec.att_cfg, 'decode_head.scale_attention.',
                                      'conv', bn_train))
    boxes = R.slide_boxes(H, W, (c, c))
    crops = torch.cat([img[:, :, y1:y2, x1:x2] for (y1, y2, x1, x2) in boxes])
    hl = daformer_head(S, mit_forward(S, crops, spec.mit), spec.head, 'decode_head.head.', 'aspp',
                       bn_train)
    hr = average_windows(hl, boxes, b, spec.num_classes)
    return resize(hrda_fuse(lr, hr, att, None, c), size=(H, W))


# ----------------------------------------------------------------------------------------------
# DACS pieces
# ----------------------------------------------------------------------------------------------

def downscale_label_ratio(label, scale, min_ratio, n_classes, ignore=IGNORE):
    """mmseg/utils/utils.py downscale_label_ratio on int labels [B, H, W] (numpy): block
    histogram with ignore as class n, majority (lowest index on ties), float32 share."""
    b, h, w = label.shape
    th, tw = h // scale, w // scale
    lab = np.where(label == ignore, n_classes, label)[:, :th * scale, :tw * scale]
    blk = lab.reshape(b, th, scale, tw, scale)
    counts = np.stack([(blk == k).sum(axis=(2, 4)) for k in range(n_classes + 1)])
    best = counts.argmax(axis=0)
    share = np.take_along_axis(counts, best[None], 0)[0].astype(np.float32) / np.float32(
        scale * scale)
    out = best.astype(np.int32)
    out[(best == n_classes) | (share < np.float32(min_ratio))] = ignore
    return out


def feat_dist_loss(f_student, f_imnet, label, cfg, n_classes):
    """fd_lambda * mean over masked pixels of ||f_student - f_imnet||_2 (channels)."""
    scale = label.shape[-1] // f_student.shape[-1]
    lab = downscale_label_ratio(label.numpy(), scale, cfg['fd_min_ratio'], n_classes)
    mask = torch.from_numpy(np.isin(lab, cfg['fd_classes']))
    d = torch.norm(f_student - f_imnet, dim=1, p=2)
    if int(mask.sum()) == 0:
        return d.sum() * 0, 0
    return cfg['fd_lambda'] * d[mask].mean(), int(mask.sum())


TWO_PI = 6.283185307179586476925286766559


def py_mod(a, b):
    return a - b * torch.floor(a / b)


def rgb_to_hsv(r, g, b):
    """kornia 0.5.8 rgb_to_hsv as native/include/hrda/detail/augment_math.h (eps 1e-6)."""
    mx = torch.maximum(torch.maximum(r, g), b)
    mn = torch.minimum(torch.minimum(r, g), b)
    v = mx
    delta = mx - mn
    s = delta / (v + 1e-6)
    d = torch.where(delta == 0, torch.ones_like(delta), delta)
    rc, gc, bc = mx - r, mx - g, mx - b
    hh = torch.where(r == mx, bc - gc, torch.where(g == mx, 2 * d + rc - bc, 4 * d + gc - rc))
    hh = hh / d
    return TWO_PI * py_mod(hh / 6, 1.0), s, v


def hsv_to_rgb(h, s, v):
    h6 = h / TWO_PI * 6
    hi = py_mod(torch.floor(h6), 6.0)
    f = py_mod(h6, 6.0) - hi
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector = hi.clamp(0, 5).long()
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = []
    for ch in range(3):
        o = torch.zeros_like(v)
        for k in range(6):
            o = torch.where(sector == k, table[k][ch], o)
        out.append(o)
    return out


def color_jitter(x, factors, order):
    """DACS denorm_ -> kornia ColorJitter (per sample factors [b, c, s, h] and order) -> renorm_,
    in x's dtype (the fixtures: float64, as the CPU twin computes; float32 only in --bench)."""
    mean = torch.from_numpy(MEAN32.astype(np.float64)).view(3, 1, 1).to(x.dtype)
    std = torch.from_numpy(STD32.astype(np.float64)).view(3, 1, 1).to(x.dtype)
    out = []
    for i in range(x.shape[0]):
        c = (x[i] * std + mean) / 255.0
        r, g, b = c[0], c[1], c[2]
        for op in order[i]:
            f = float(factors[i][op])
            if op == 0:
                k = f - 1.0
                r, g, b = [torch.clamp(ch + k, 0, 1) for ch in (r, g, b)]
            elif op == 1:
                r, g, b = [torch.clamp(ch * f, 0, 1) for ch in (r, g, b)]
            else:
                h, s, v = rgb_to_hsv(r, g, b)
                if op == 2:
                    s = torch.clamp(s * f, 0, 1)
                else:
                    h = torch.fmod(h + TWO_PI * f, TWO_PI)
                r, g, b = hsv_to_rgb(h, s, v)
        c = torch.stack([r, g, b])
        out.append(((c * 255.0 - mean) / std).to(x.dtype))
    return torch.stack(out)


def blur_kernel_size(n):
    c = math.ceil(0.1 * n)
    return int(math.floor(c - 0.5 + c % 2))


def gaussian_1d(k, sigma):
    w = [math.exp(-((i - k // 2) * (i - k // 2)) / (2 * sigma * sigma)) for i in range(k)]
    s = 0.0
    for v in w:
        s += v
    return [v / s for v in w]


def gaussian_blur(x, sigmas):
    """kornia GaussianBlur2d, reflect border, separable (rows along W, then columns), per-sample
    sigma; in x's dtype (float64 for the fixtures; kernel taps normalised in float64)."""
    b, c, H, W = x.shape
    kh, kw = blur_kernel_size(H), blur_kernel_size(W)
    out = []
    for i in range(b):
        s = float(sigmas[i])
        wx = torch.tensor(gaussian_1d(kw, s), dtype=torch.float64).to(x.dtype)
        wy = torch.tensor(gaussian_1d(kh, s), dtype=torch.float64).to(x.dtype)
        xi = x[i:i + 1]
        xi = F.conv2d(F.pad(xi, (kw // 2, kw // 2, 0, 0), mode='reflect'),
                      wx.view(1, 1, 1, kw).repeat(c, 1, 1, 1), groups=c)
        xi = F.conv2d(F.pad(xi, (0, 0, kh // 2, kh // 2), mode='reflect'),
                      wy.view(1, 1, kh, 1).repeat(c, 1, 1, 1), groups=c)
        out.append(xi.to(x.dtype))
    return torch.cat(out)


def strong_augment(x, aug):
    """The mixed (or MIC) images through jitter (if its gate) then blur (if its gate)."""
    b = x.shape[0]
    if aug['jitter']:
        fac = [aug['factors'][4 * i:4 * i + 4] for i in range(b)]
        order = [aug['order'][4 * i:4 * i + 4] for i in range(b)]
        x = color_jitter(x, fac, order)
    if aug['blur']:
        x = gaussian_blur(x, aug['sigma'])
    return x


def block_mask(x, keep):
    """MIC: x * nearest-upsampled keep grid [B, gh, gw] (PyTorch 'nearest': floor(dst * in/out) f32)."""
    keep = np.asarray(keep, np.float64)
    _, gh, gw = keep.shape
    H, W = x.shape[2:]

    def src(n_out, n_in):
        s = np.floor(np.arange(n_out, dtype=np.float32) * (np.float32(n_in) / np.float32(n_out)))
        return np.minimum(s.astype(np.int64), n_in - 1)

    m = keep[:, src(H, gh)][:, :, src(W, gw)]
    return x * torch.from_numpy(m).to(x.dtype)[:, None]


def class_mix(src_img, tgt_img, src_label, pseudo_label, weight_map, chosen):
    mask = torch.from_numpy(np.stack([np.isin(src_label[i].numpy(), chosen[i])
                                      for i in range(src_img.shape[0])]))
    img = torch.where(mask[:, None], src_img, tgt_img)
    lab = torch.where(mask, src_label, pseudo_label)
    w = torch.where(mask, torch.ones_like(weight_map), weight_map)
    return img, lab, w


def lr_factor(i, cfg):
    """mmcv PolyLrUpdaterHook (power, min_lr 0) with linear warm-up."""
    poly = (1 - i / cfg['max_iters']) ** cfg['poly_power']
    if i < cfg['warmup_iters']:
        return poly * (1 - (1 - i / cfg['warmup_iters']) * (1 - cfg['warmup_ratio']))
    return poly


def param_group_key(name):
    """mmcv DefaultOptimizerConstructor custom_keys: longest key first, then alphabetical."""
    for key in sorted(CUSTOM_KEYS, key=lambda k: (-len(k), k)):
        if key in name:
            return CUSTOM_KEYS[key].get('lr_mult', 1.0), CUSTOM_KEYS[key].get('decay_mult', 1.0)
    return 1.0, 1.0


# ----------------------------------------------------------------------------------------------
# States
# ----------------------------------------------------------------------------------------------

def random_state(shapes, rng, random_buffers=False):
    """numpy float64 arrays holding float32-representable values: weights N(0, 1/fan_in),
    biases 0.1 N, norm weights 1 + 0.1 N, norm biases 0.1 N; BN running stats 0 / 1 (PyTorch's
    defaults) unless random_buffers (self-check of the eval path)."""
    sd = {}
    for name, shape, role in shapes:
        if role == 'nbt':
            continue
        if role == 'w':
            v = rng.standard_normal(shape) / np.sqrt(int(np.prod(shape[1:])))
        elif role == 'b':
            v = 0.1 * rng.standard_normal(shape)
        elif role == 'nw':
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        elif role == 'nb':
            v = 0.1 * rng.standard_normal(shape)
        elif role == 'rm':
            v = 0.2 * rng.standard_normal(shape) if random_buffers else np.zeros(shape)
        elif role == 'rv':
            v = rng.uniform(0.5, 1.5, shape) if random_buffers else np.ones(shape)
        else:
            raise ValueError(role)
        sd[name] = v.astype(np.float32).astype(np.float64)
    return sd


def torch_state(sd, spec_shapes, dtype, grad):
    S = {}
    for name, _, role in spec_shapes:
        if role == 'nbt':
            continue
        t = torch.tensor(sd[name], dtype=dtype)
        if grad and role not in ('rm', 'rv'):
            t.requires_grad_(True)
        S[name] = t
    return S


def snapshot(S, names):
    return {n: S[n].detach().clone() for n in names}


# ----------------------------------------------------------------------------------------------
# The iteration
# ----------------------------------------------------------------------------------------------

class Trainer:
    """Student, EMA teacher, frozen ImageNet backbone, AdamW with mmcv's custom_keys groups."""

    def __init__(self, spec, cfg, student_sd, imnet_sd, dtype, record=True):
        self.spec, self.cfg, self.dtype, self.record = spec, cfg, dtype, record
        self.S = torch_state(student_sd, spec.shapes, dtype, grad=True)
        self.T = torch_state(student_sd, spec.shapes, dtype, grad=False)
        for n in spec.buffer_names:  # teacher buffers: PyTorch defaults, not copied
            self.T[n] = (torch.zeros_like(self.T[n]) if n.endswith('running_mean')
                         else torch.ones_like(self.T[n]))
        self.I = torch_state(imnet_sd, spec.mit_shapes, dtype, grad=False)
        groups = {}
        for n in spec.param_names:
            groups.setdefault(param_group_key(n), []).append(self.S[n])
        self.opt = torch.optim.AdamW(
            [{'params': ps, 'lr': cfg['lr'] * lm, 'weight_decay': cfg['weight_decay'] * dm,
              'base_lr': cfg['lr'] * lm} for (lm, dm), ps in groups.items()],
            lr=cfg['lr'], betas=tuple(cfg['betas']), eps=cfg['eps'],
            weight_decay=cfg['weight_decay'])

    def ema(self, i):
        with torch.no_grad():
            if i == 0:
                for n in self.spec.param_names:
                    self.T[n].copy_(self.S[n])
            else:
                a = min(1 - 1 / (i + 1), self.cfg['alpha'])
                for n in self.spec.param_names:
                    self.T[n].copy_(a * self.T[n] + (1 - a) * self.S[n])

    def pseudo_labels(self, tgt_img, tgt_valid):
        spec, cfg = self.spec, self.cfg
        with torch.no_grad():
            logits = encode_decode(spec, self.T, tgt_img, bn_train=True)
            prob = torch.softmax(logits, dim=1)
            top2 = prob.topk(2, dim=1).values
            conf, pl = prob.max(dim=1)
        n = conf.numel()
        confident = int((conf >= cfg['pseudo_threshold']).sum())
        pw = confident / n
        wmap = torch.full(conf.shape, pw, dtype=self.dtype)
        if spec.hrda:
            wmap = wmap * tgt_valid
        else:
            if cfg['ignore_top'] > 0:
                wmap[:, :cfg['ignore_top'], :] = 0
            if cfg['ignore_bottom'] > 0:
                wmap[:, -cfg['ignore_bottom']:, :] = 0
        stats = dict(confident=confident, pixels=n,
                     min_top2_prob_gap=float((top2[:, 0] - top2[:, 1]).min()),
                     top2_prob_gap_below_1e5=int(((top2[:, 0] - top2[:, 1]) < 1e-5).sum()),
                     min_conf_distance_to_threshold=float((conf - cfg['pseudo_threshold']).abs().min()))
        return pl.to(torch.int64), pw, wmap, conf, stats

    def step(self, i, batch, draws):
        spec, cfg, dt = self.spec, self.cfg, self.dtype
        rec = {'loss': {}, 'out': {}, 'stats': {}}
        self.opt.zero_grad(set_to_none=False)
        self.ema(i)
        drop = Dropout(draws['dropout_seed'])
        src_img, src_label = batch['src_img'], batch['src_label']
        tgt_img, tgt_valid = batch['tgt_img'], batch.get('tgt_valid')

        # (a) source step + ImageNet feature distance (one backward)
        drop.prefix = 'src:'
        losses, feat = train_forward(spec, self.S, src_img, src_label, None, draws['src_box'],
                                     drop)
        with torch.no_grad():
            x_im = resize(src_img, scale_factor=spec.context_scale) if spec.hrda else src_img
            f_im = mit_forward(self.I, x_im, spec.mit)[-1]
        fd, fd_pixels = feat_dist_loss(feat, f_im, src_label, cfg, spec.num_classes)
        rec['stats']['fd_mask_pixels'] = fd_pixels
        losses['src.loss_imnet_feat_dist'] = fd
        total = sum(v for k, v in losses.items() if 'loss' in k)
        total.backward()
        rec['loss'].update(losses)
        del total, feat, losses

        # pseudo-labels (teacher: BN train mode, no dropout, no seeds)
        pl, pw, wmap, conf, st = self.pseudo_labels(tgt_img, tgt_valid)
        rec['stats'].update(st)
        rec['conf'] = conf
        rec['out']['pseudo_label'] = pl
        rec['out']['pseudo_weight'] = torch.tensor([pw], dtype=dt)

        # (b) ClassMix + strong augmentation, mixed step
        m_img, m_lab, m_w = class_mix(src_img, tgt_img, src_label, pl, wmap, draws['classmix'])
        m_img = strong_augment(m_img, draws['mix_aug'])
        rec['out'].update(mixed_img=m_img, mixed_label=m_lab, mixed_weight=m_w)
        drop.prefix = 'mix:'
        losses, _ = train_forward(spec, self.S, m_img, m_lab, m_w, draws.get('mix_box'), drop)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        rec['loss'].update({'mix.' + k: v for k, v in losses.items()})
        del losses

        # (c) MIC: target images, own strong augmentation, block mask; pseudo-label and weights
        if cfg['mic']:
            k_img = block_mask(strong_augment(tgt_img.clone(), draws['mic_aug']), draws['mic_keep'])
            rec['out']['masked_img'] = k_img
            drop.prefix = 'masked:'
            losses, _ = train_forward(spec, self.S, k_img, pl, wmap, draws.get('masked_box'), drop)
            losses['decode.loss_seg'] = losses['decode.loss_seg'] * cfg['mask_lambda']
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            rec['loss'].update({'masked.' + k: v for k, v in losses.items()})
            del losses

        if self.record:
            rec['grad'] = {n: self.S[n].grad.detach().clone() for n in spec.param_names}
        fac = lr_factor(i, cfg)
        for g in self.opt.param_groups:
            g['lr'] = g['base_lr'] * fac
        self.opt.step()
        rec['lr_factor'] = fac
        rec['dropout_sites'] = drop.sites
        if self.record:
            rec['after_model'] = snapshot(self.S, spec.state_names)
            rec['after_teacher'] = snapshot(self.T, spec.state_names)
        return rec


# ----------------------------------------------------------------------------------------------
# Fixture data and draws
# ----------------------------------------------------------------------------------------------

def make_images(rng, b, h, w):
    """Normalised RGB images (float32-representable) from a smooth field plus noise in 0..255,
    clipped (so that jitter's clamps and grey/saturated pixels occur)."""
    low = torch.from_numpy(rng.standard_normal((b, 3, 8, 8)))
    smooth = resize(low, size=(h, w)).numpy()
    u = np.clip(127.5 + 80.0 * smooth + 25.0 * rng.standard_normal((b, 3, h, w)), 0, 255)
    x = (u - MEAN32.astype(np.float64)[:, None, None]) / STD32.astype(np.float64)[:, None, None]
    return x.astype(np.float32).astype(np.float64)


def make_labels(rng, b, h, w, n_classes, fd_classes, block, with_ignore=True):
    """Blocky labels: each block x block region gets a dominant class, then about 15 % of its
    (block/4)-cells another class, and (optionally) a few 8 x 8 ignore squares."""
    cell = block // 4
    lab = np.empty((b, h, w), np.int32)
    for i in range(b):
        for y in range(0, h, block):
            for x in range(0, w, block):
                lab[i, y:y + block, x:x + block] = rng.integers(0, n_classes)
        # one fd-class block per image at least
        y, x = block * rng.integers(0, h // block), block * rng.integers(0, w // block)
        lab[i, y:y + block, x:x + block] = fd_classes[i % len(fd_classes)]
        for y in range(0, h, cell):
            for x in range(0, w, cell):
                if rng.random() < 0.15:
                    lab[i, y:y + cell, x:x + cell] = rng.integers(0, n_classes)
        if with_ignore:
            for y in range(0, h, 8):
                for x in range(0, w, 8):
                    if rng.random() < 0.03:
                        lab[i, y:y + 8, x:x + 8] = IGNORE
    return lab


def draw_aug(rng, b, jitter, blur):
    """kornia ranges for strength 0.2 (brightness/contrast/saturation [0.8, 1.2], hue
    [-0.2, 0.2]); sigma U(0.15, 1.15); all float32 as the Java side holds them."""
    factors, order, sigma = [], [], []
    for _ in range(b):
        bri, con, sat = (float(np.float32(0.8 + 0.4 * rng.random())) for _ in range(3))
        hue = float(np.float32(-0.2 + 0.4 * rng.random()))
        factors += [bri, con, sat, hue]
        order += [int(v) for v in rng.permutation(4)]
        sigma.append(float(np.float32(0.15 + 1.0 * rng.random())))
    return {'jitter': bool(jitter), 'blur': bool(blur), 'factors': factors, 'order': order,
            'sigma': sigma}


def draw_box(rng, size, crop, divisible):
    """get_crop_bbox: offset = randint(0, (margin + 1) // divisible) * divisible."""
    m = size - crop
    return [int(rng.integers(0, (m + 1) // divisible)) * divisible,
            int(rng.integers(0, (m + 1) // divisible)) * divisible]


def draw_keep(rng, b, grid, ratio):
    while True:
        keep = (rng.random((b, grid, grid)) > ratio).astype(int)
        s = keep.reshape(b, -1).sum(1)
        if (s > 0).all() and (s < grid * grid).all():
            return keep.tolist()


def draw_iteration(rng, spec, cfg, src_label, gates):
    b, size = src_label.shape[0], src_label.shape[1]
    d = {'dropout_seed': int(rng.integers(-2 ** 63, 2 ** 63 - 1, dtype=np.int64))}
    if spec.hrda:
        d['src_box'] = draw_box(rng, size, spec.hr_crop, spec.crop_divisible)
        d['mix_box'] = draw_box(rng, size, spec.hr_crop, spec.crop_divisible)
        if cfg['mic']:
            d['masked_box'] = draw_box(rng, size, spec.hr_crop, spec.crop_divisible)
    else:
        d['src_box'] = d['mix_box'] = None
        if cfg['mic']:
            d['masked_box'] = None
    classes = np.unique(src_label)
    n = len(classes)
    d['classmix'] = [sorted(int(c) for c in classes[rng.choice(n, (n + n % 2) // 2,
                                                                replace=False)])
                     for _ in range(b)]
    d['mix_aug'] = draw_aug(rng, b, *gates['mix'])
    if cfg['mic']:
        d['mic_aug'] = draw_aug(rng, b, *gates['mic'])
        grid = int(round(size / cfg['mask_block']))
        d['mic_keep'] = draw_keep(rng, b, grid, cfg['mask_ratio'])
    return d


def valid_mask(b, h, w, margins):
    """HRDA valid_pseudo_mask of each crop: zeros on the given (top, bottom, left, right) margins."""
    v = np.ones((b, h, w))
    for i, (t, bo, l, r) in enumerate(margins):
        v[i, :t] = 0
        if bo:
            v[i, h - bo:] = 0
        v[i, :, :l] = 0
        if r:
            v[i, :, w - r:] = 0
    return v


# ----------------------------------------------------------------------------------------------
# Fixture generation
# ----------------------------------------------------------------------------------------------

FIXTURES = {
    # name: (file, model, seed, mic, gates per iteration)
    'hrda_mic': ('hrda_mic_tiny.safetensors', 'tiny_hrda', 20240601, True,
                 [{'mix': (True, True), 'mic': (True, True)},
                  {'mix': (True, False), 'mic': (False, True)}]),
    'daformer_dacs': ('daformer_dacs_tiny.safetensors', 'tiny_daformer', 20240602, False,
                      [{'mix': (True, True)}, {'mix': (False, True)}]),
}

B, SIZE = 2, 96
# the DAFormer fixture keeps its first iteration only (the second one's code paths are HRDA's too): size
STORED_ITERATIONS = {'hrda_mic': 2, 'daformer_dacs': 1}
LOGIT_SCALE = 8.0  # the segmentation conv_seg weights of the fixtures: N(0, 1/16) * 8


def base_config(spec, mic):
    cfg = dict(
        model=spec.name, batch=B, crop=SIZE, num_classes=spec.num_classes, ignore_index=IGNORE,
        alpha=0.999, pseudo_threshold=None,
        fd_lambda=0.05, fd_classes=[1, 3], fd_min_ratio=0.75,
        fd_feature_scale=spec.context_scale if spec.hrda else 1.0,
        ignore_top=0 if spec.hrda else 4, ignore_bottom=0 if spec.hrda else 30,
        mic=mic, mask_mode='separatetrgaug' if mic else None, mask_ratio=0.7, mask_block=32,
        mask_lambda=1.0,
        lr=6e-5, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, custom_keys=CUSTOM_KEYS,
        max_iters=10, poly_power=1.0, min_lr=0.0, warmup='linear', warmup_iters=4,
        warmup_ratio=0.1,
        dropout_ratio=DROPOUT_RATIO, drop_path_rate=DROP_PATH_RATE,
        drop_path_per_block=[float(p) for p in drop_path_rates(spec.mit['depths'])],
        bn_momentum=BN_MOMENTUM, bn_eps=BN_EPS,
        img_norm_mean=[float(v) for v in MEAN32], img_norm_std=[float(v) for v in STD32],
        blur_kernel=blur_kernel_size(SIZE), jitter_strength=0.2,
    )
    if spec.hrda:
        cfg.update(context_scale=spec.context_scale, hr_crop_size=spec.hr_crop,
                   crop_coord_divisible=spec.crop_divisible, hr_loss_weight=spec.hr_loss_weight,
                   slide_window=spec.hr_crop, slide_stride=spec.hr_crop // 2,
                   tgt_valid_margins_tblr=[[4, 30, 4, 0], [4, 30, 0, 4]])
    return cfg


def mit_out_width(w):
    """Width of MiT's last stage for an input of width w (patch embeddings k7 s4 p3, then k3 s2 p1)."""
    w = (w + 6 - 7) // 4 + 1
    for _ in range(3):
        w = (w + 2 - 3) // 2 + 1
    return w


def fixture_inputs(key):
    """Weights, batches and draws of a fixture (everything before the threshold choice)."""
    fname, model, seed, mic, gates = FIXTURES[key]
    spec = SPECS[model]
    cfg = base_config(spec, mic)
    rng = np.random.default_rng(seed)
    student = random_state(spec.shapes, rng)
    # wider teacher confidences (sparser in their middle range, see choose_and_run); x8 is exact
    student[spec.seg_prefix + 'conv_seg.weight'] *= LOGIT_SCALE
    imnet = random_state(spec.mit_shapes, rng)
    # the label scale of the feature distance: the input width over the last stage's width
    fd_scale = SIZE // mit_out_width(int(SIZE * spec.context_scale) if spec.hrda else SIZE)
    block = fd_scale
    batches, draws = [], []
    for k in range(2):
        while True:
            lab = make_labels(rng, B, SIZE, SIZE, spec.num_classes, cfg['fd_classes'], block)
            fd = downscale_label_ratio(lab, fd_scale, cfg['fd_min_ratio'],
                                       spec.num_classes)
            if (len(np.setdiff1d(np.arange(spec.num_classes), lab)) == 0
                    and (lab == IGNORE).any() and np.isin(fd, cfg['fd_classes']).any()):
                break
        bt = {'src_img': make_images(rng, B, SIZE, SIZE), 'src_label': lab,
              'tgt_img': make_images(rng, B, SIZE, SIZE)}
        if spec.hrda:
            bt['tgt_valid'] = valid_mask(B, SIZE, SIZE, cfg['tgt_valid_margins_tblr'])
        batches.append(bt)
        draws.append(draw_iteration(rng, spec, cfg, lab, gates[k]))
    return fname, spec, cfg, student, imnet, batches, draws


def torch_batch(bt, dtype):
    out = {}
    for k, v in bt.items():
        out[k] = torch.from_numpy(v.astype(np.int64)) if 'label' in k else \
            torch.tensor(v, dtype=dtype)
    return out


def run_fixture(spec, cfg, student, imnet, batches, draws, dtype=torch.float64):
    tr = Trainer(spec, cfg, student, imnet, dtype)
    return [tr.step(k, torch_batch(batches[k], dtype), draws[k]) for k in range(len(batches))]


def teacher_conf0(spec, cfg, student, batch):
    """Iteration 0's teacher confidences: the teacher is the student's parameters and its BN
    runs on batch statistics, so its buffers do not matter."""
    S = torch_state(student, spec.shapes, torch.float64, grad=False)
    with torch.no_grad():
        logits = encode_decode(spec, S, torch.tensor(batch['tgt_img']), bn_train=True)
        return torch.softmax(logits, dim=1).max(dim=1).values.numpy().ravel()


CLEAR = 1e-4  # no confidence closer than this to the threshold (both iterations)
MAX_TRIES = 100


def gap_candidates(conf, lo_q=0.02, hi_q=0.98):
    """Gaps between consecutive sorted confidences wider than 2 CLEAR (+ 10 %), between the
    lo_q and hi_q quantiles, nearest the median first (confidences are dense: at 32768 pixels
    the gaps near the median are ~1e-5, so 'near' is the nearest gap that is wide enough)."""
    v = np.sort(conf)
    n = len(v)
    g = np.diff(v)
    js = [j for j in range(int(lo_q * n), int(hi_q * n)) if g[j] > 2.2 * CLEAR]
    js.sort(key=lambda j: (abs((j + 1) / n - 0.5), j))
    if not js:
        raise RuntimeError('no confidence gap wider than 2.2e-4')
    return [((float(v[j]), float(v[j + 1])), round((j + 1) / n, 4)) for j in js]


def clear_of(conf, thr):
    frac = float((conf >= thr).mean())
    return float(np.abs(conf - thr).min()) >= CLEAR and 0 < frac < 1


def refine(gap, conf1):
    """A threshold inside the iteration-0 gap (so iteration 0 is unchanged) clear of conf1:
    the midpoint of the widest free interval."""
    lo, hi = gap[0] + CLEAR, gap[1] - CLEAR
    inner = np.sort(conf1[(conf1 > lo - CLEAR) & (conf1 < hi + CLEAR)])
    pts = np.concatenate([[lo - CLEAR], inner, [hi + CLEAR]])
    pts = np.clip(pts, lo - CLEAR, hi + CLEAR)
    gg = np.diff(pts)
    j = int(np.argmax(gg))
    return float(np.clip((pts[j] + pts[j + 1]) / 2, lo, hi))


def choose_and_run(spec, cfg, student, imnet, batches, draws, log=print):
    """The threshold: the midpoint of the widest confidence gap of iteration 0 near the median
    (every confidence >= 1e-4 away); iteration 1's teacher depends on iteration 0 only through
    the confident count, i.e. on the gap, so conf1 is known after one run and the threshold is
    moved inside the gap if a conf1 value is too close; the next gap is tried if none fits."""
    conf0 = teacher_conf0(spec, cfg, student, batches[0])
    for tries, (gap, window) in enumerate(gap_candidates(conf0)):
        if tries >= MAX_TRIES:
            break
        thr = (gap[0] + gap[1]) / 2
        cfg['pseudo_threshold'] = thr
        recs = run_fixture(spec, cfg, student, imnet, batches, draws)
        conf1 = recs[1]['conf'].numpy().ravel()
        if clear_of(conf1, thr):
            return recs, gap, window, tries + 1
        thr2 = refine(gap, conf1)
        if clear_of(conf1, thr2) and clear_of(conf0, thr2):
            cfg['pseudo_threshold'] = thr2
            recs = run_fixture(spec, cfg, student, imnet, batches, draws)
            return recs, gap, window, tries + 1
        log(f'  threshold gap {gap} (quantile {window}) not clear of iteration 1, next')
    raise RuntimeError('no pseudo threshold clear of both iterations')


def as_np(t):
    return t.detach().numpy() if torch.is_tensor(t) else np.asarray(t)


def build_fixture(key, store='f64'):
    fname, spec, cfg, student, imnet, batches, draws = fixture_inputs(key)
    if store == 'f32':
        # the inputs are made exactly representable in float32, so that the stored inputs are the
        # ones computed with (in float64); only the outputs are rounded when stored (~6e-8)
        def r32(d):
            return {k: (v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v) for k, v in d.items()}
        student, imnet, batches = r32(student), r32(imnet), [r32(b) for b in batches]
    recs, gap, window, tries = choose_and_run(spec, cfg, student, imnet, batches, draws)
    ftag = 'F64' if store == 'f64' else 'F32'
    cfg['stored_iterations'] = STORED_ITERATIONS[key]
    cfg['store_dtype'] = ftag
    cfg['pseudo_threshold_gap'] = list(gap)
    cfg['pseudo_threshold_gap_quantile'] = window
    cfg['pseudo_threshold_tries'] = tries
    cfg['torch_version'] = torch.__version__
    # PyTorch's own float32 error against this float64 run, per iteration and kind of tensor: the
    # precision-aware bound of an f32 engine run (max over tensors of max |diff| / max |ref|)
    # (iteration 0 from the common initial state; iteration 1 restarted in float32 from this run's
    # float64 state after iteration 0, so that one iteration's rounding is measured, not the drift of
    # a chained run whose AdamW first step is about lr * sign(gradient))
    recs32 = run_fixture(spec, cfg, student, imnet, batches[:1], draws[:1], dtype=torch.float32)
    recs32 += [f32_restart(spec, cfg, recs[k - 1], imnet, batches[k], draws[k], k) for k in range(1, len(recs))]
    f32_err = [f32_errors(r64, r32, spec) for r64, r32 in zip(recs, recs32)]
    tensors = []
    for n in spec.state_names:
        tensors.append(('init.model.' + n, student[n], ftag))
    for n in spec.backbone_param_names:
        tensors.append(('init.imnet.' + n, imnet[n], ftag))
    meta = {'config': json.dumps(cfg, separators=(',', ':'))}
    for k, rec in enumerate(recs):
        if k >= STORED_ITERATIONS[key]:
            break
        p = f'iter{k}.'
        bt = batches[k]
        tensors.append((p + 'input.src_img', bt['src_img'], ftag))
        tensors.append((p + 'input.src_label', bt['src_label'], 'I32'))
        tensors.append((p + 'input.tgt_img', bt['tgt_img'], ftag))
        if spec.hrda:
            tensors.append((p + 'input.tgt_valid', bt['tgt_valid'], ftag))
        o = rec['out']
        tensors.append((p + 'out.pseudo_label', as_np(o['pseudo_label']), 'I32'))
        tensors.append((p + 'out.pseudo_weight', as_np(o['pseudo_weight']), ftag))
        tensors.append((p + 'out.mixed_img', as_np(o['mixed_img']), ftag))
        tensors.append((p + 'out.mixed_label', as_np(o['mixed_label']), 'I32'))
        tensors.append((p + 'out.mixed_weight', as_np(o['mixed_weight']), ftag))
        if 'masked_img' in o:
            tensors.append((p + 'out.masked_img', as_np(o['masked_img']), ftag))
        for name, v in rec['loss'].items():
            tensors.append((p + 'loss.' + name, as_np(v).reshape(1), ftag))
        for n in spec.param_names:
            tensors.append((p + 'grad.' + n, as_np(rec['grad'][n]), ftag))
        for n in spec.state_names:
            tensors.append((p + 'after.model.' + n, as_np(rec['after_model'][n]), ftag))
        for n in spec.state_names:
            # iteration 0's teacher parameters are the initial student's (the EMA copy): only its buffers are stored
            if k == 0 and n in spec.param_names:
                continue
            tensors.append((p + 'after.teacher.' + n, as_np(rec['after_teacher'][n]), ftag))
        meta[p + 'torch_f32_error'] = json.dumps(f32_err[k], separators=(',', ':'))
        d = dict(draws[k])
        d['lr_factor'] = rec['lr_factor']
        meta[p + 'draws'] = json.dumps(d, separators=(',', ':'))
        meta[p + 'dropout_sites'] = json.dumps(rec['dropout_sites'], separators=(',', ':'))
        meta[p + 'stats'] = json.dumps(rec['stats'], separators=(',', ':'))
    return fname, tensors, meta, recs, cfg


def f32_restart(spec, cfg, prev, imnet, batch, draws, k):
    """Iteration k (= 1) in float32 from the float64 state after iteration k - 1: student and teacher
    as stored, AdamW's state after its one step on iteration k - 1's gradient."""
    assert k == 1, 'AdamW state is rebuilt for one previous step only'
    sd = {n: as_np(prev['after_model'][n]).astype(np.float64) for n in spec.state_names}
    tr = Trainer(spec, cfg, sd, imnet, torch.float32)
    with torch.no_grad():
        for n in spec.state_names:
            tr.T[n].copy_(torch.tensor(as_np(prev['after_teacher'][n]), dtype=torch.float32))
    b1, b2 = cfg['betas']
    for n in spec.param_names:
        g = torch.tensor(as_np(prev['grad'][n]), dtype=torch.float32)
        tr.opt.state[tr.S[n]] = {'step': torch.tensor(float(k)), 'exp_avg': (1 - b1) * g, 'exp_avg_sq': (1 - b2) * g * g}
    return tr.step(k, torch_batch(batch, torch.float32), draws)


def f32_errors(r64, r32, spec):
    def rel(a, b):
        a, b = as_np(a).astype(np.float64), as_np(b).astype(np.float64)
        return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-300))
    out = {}
    top = max(float(np.abs(as_np(v)).max()) for v in r64['grad'].values())
    out['grad'] = max(rel(r64['grad'][n], r32['grad'][n]) for n in spec.param_names
                      if float(np.abs(as_np(r64['grad'][n])).max()) >= 1e-9 * top)
    out['after.model'] = max(rel(r64['after_model'][n], r32['after_model'][n]) for n in spec.state_names)
    out['after.teacher'] = max(rel(r64['after_teacher'][n], r32['after_teacher'][n]) for n in spec.state_names)
    out['loss'] = max(rel(r64['loss'][n], r32['loss'][n]) for n in r64['loss'])
    out['out'] = max(rel(r64['out'][n], r32['out'][n]) for n in r64['out'] if 'label' not in n)
    return out


def write_fixture(path, tensors, meta):
    R.write_safetensors(path, tensors, meta)


# ----------------------------------------------------------------------------------------------
# Bench mode (real-size MiT-B0 models, f32)
# ----------------------------------------------------------------------------------------------

def bench(name, iters, threads, shrink=1):
    """Timing of the real-size models (shrink > 1 divides the crop and HRDA's detail crop, for a
    quick check of the code path only)."""
    torch.set_num_threads(threads)
    spec = SPECS[name]
    size = (1024 if spec.hrda else 512) // shrink
    if spec.hrda and shrink > 1:
        spec = Spec(spec.name, 'hrda', spec.mit, spec.head, att_embed=spec.att_embed,
                    hr_crop=spec.hr_crop // shrink)
    cfg = base_config(spec, True)
    cfg.update(pseudo_threshold=0.968, fd_lambda=0.005, fd_classes=[6, 7] + list(range(11, 19)),
               mask_block=(64 if spec.hrda else 32) // shrink, ignore_top=0 if spec.hrda else 15,
               ignore_bottom=0 if spec.hrda else 120)
    rng = np.random.default_rng(0)
    student = random_state(spec.shapes, rng)
    imnet = random_state(spec.mit_shapes, rng)
    tr = Trainer(spec, cfg, student, imnet, torch.float32, record=False)
    gates = {'mix': (True, True), 'mic': (True, True)}
    times = []
    for it in range(iters + 1):
        lab = make_labels(rng, 2, size, size, spec.num_classes, cfg['fd_classes'], 64 // shrink)
        bt = {'src_img': make_images(rng, 2, size, size), 'src_label': lab,
              'tgt_img': make_images(rng, 2, size, size)}
        if spec.hrda:
            bt['tgt_valid'] = valid_mask(2, size, size, [[30 // shrink, 240 // shrink, 30 // shrink,
                                                          30 // shrink]] * 2)
        draws = draw_iteration(rng, spec, cfg, lab, gates)
        batch = torch_batch(bt, torch.float32)
        t0 = time.perf_counter()
        tr.step(it, batch, draws)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        tag = 'warmup' if it == 0 else f'iter={it}'
        print(f'bench={name} {tag} iteration_s={dt:.3f} peak_rss_mib={rss:.0f}', flush=True)
        if it > 0:
            times.append(dt)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f'bench={name} iters={iters} threads={threads} crop={size} shrink={shrink} batch=2 '
          f'dtype=f32 torch={torch.__version__} iteration_s={np.mean(times):.3f} '
          f'peak_rss_mib={rss:.0f}', flush=True)


# ----------------------------------------------------------------------------------------------

def setup_determinism(threads=1):
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--out-dir', default=OUT_DIR)
    ap.add_argument('--only', choices=sorted(FIXTURES), action='append')
    ap.add_argument('--store-dtype', choices=['f64', 'f32'], default='f32',
                    help='dtype of the stored float tensors (default f64)')
    ap.add_argument('--bench', choices=['daformer_mitb0', 'hrda_mitb0'])
    ap.add_argument('--iters', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--shrink', type=int, default=1,
                    help='bench: divide the crop sizes (code-path check only, not a timing)')
    a = ap.parse_args()
    if a.bench:
        torch.use_deterministic_algorithms(True)
        bench(a.bench, a.iters, a.threads, a.shrink)
        return
    setup_determinism(1)
    os.makedirs(a.out_dir, exist_ok=True)
    for key in a.only or sorted(FIXTURES):
        fname, tensors, meta, recs, cfg = build_fixture(key, a.store_dtype)
        path = os.path.join(a.out_dir, fname)
        write_fixture(path, tensors, meta)
        print(f'{path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, '
              f'pseudo_threshold {cfg["pseudo_threshold"]:.6f}')
        for k, rec in enumerate(recs):
            ls = ' '.join(f'{n}={float(v):.6g}' for n, v in rec['loss'].items())
            print(f'  iter{k}: {ls}')
            print(f'  iter{k}: stats {json.dumps(rec["stats"])}')


if __name__ == '__main__':
    main()
