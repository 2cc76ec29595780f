"""Float64 numpy reference of the MiT / DAFormer / HRDA forward pass (eval mode).

Independent re-implementation written from the published architecture
(lhoyer/HRDA, lhoyer/DAFormer, NVlabs/SegFormer, mmsegmentation v0.16,
mmcv 1.3.x) for checking the Java engine. Nothing here imports torch.

Every function takes a flat state dict ``sd`` mapping mmseg state-dict key
names (e.g. ``backbone.block1.0.attn.q.weight``) to numpy arrays, plus a
``prefix`` naming the sub-module (``backbone.``, ``decode_head.``,
``decode_head.head.``, ``decode_head.scale_attention.``).

Layout conventions: images and feature maps are NCHW; token sequences are
(N, L, C) with L = H*W in row-major (h, w) order, exactly like
``x.flatten(2).transpose(1, 2)`` in the original code.

Inference semantics: dropout / Dropout2d / DropPath are identities and BN
uses running statistics (``model.eval()``).

See tools/reference/README.md for the file/function each piece follows.
"""

import json
import math

import numpy as np

# ----------------------------------------------------------------------------
# Configurations
# ----------------------------------------------------------------------------

MIT_B0 = dict(embed_dims=[32, 64, 160, 256], num_heads=[1, 2, 5, 8],
              depths=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1], mlp_ratio=4,
              in_chans=3)
MIT_B5 = dict(embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
              depths=[3, 6, 40, 3], sr_ratios=[8, 4, 2, 1], mlp_ratio=4,
              in_chans=3)

# DAFormer head as in configs/_base_/models/daformer_sepaspp_mitb5.py
DAFORMER_HEAD = dict(in_channels=[64, 128, 320, 512], channels=256,
                     embed_dims=256, num_classes=19,
                     dilations=[1, 6, 12, 18])

# eps values
LN_EPS_BLOCK = 1e-6   # partial(nn.LayerNorm, eps=1e-6): block norm1/norm2, stage norm{1..4}
LN_EPS_DEFAULT = 1e-5  # nn.LayerNorm(): patch_embed{i}.norm and attn.norm (sr>1)
BN_EPS = 1e-5          # mmcv build_norm_layer BN default


# ----------------------------------------------------------------------------
# State-dict shape builders (ordered like the PyTorch module registration)
# Each entry: (name, shape, role) with role in
#   'w'  : conv / linear weight (fan_in = prod(shape[1:]))
#   'b'  : conv / linear bias
#   'nw' : LayerNorm / BN weight (gamma)
#   'nb' : LayerNorm / BN bias (beta)
#   'rm' : BN running_mean, 'rv' : BN running_var, 'nbt': BN num_batches_tracked
# ----------------------------------------------------------------------------

def _linear(name, cin, cout, bias=True):
    out = [(name + '.weight', (cout, cin), 'w')]
    if bias:
        out.append((name + '.bias', (cout,), 'b'))
    return out


def _conv(name, cin, cout, k, groups=1, bias=True):
    out = [(name + '.weight', (cout, cin // groups, k, k), 'w')]
    if bias:
        out.append((name + '.bias', (cout,), 'b'))
    return out


def _ln(name, c):
    return [(name + '.weight', (c,), 'nw'), (name + '.bias', (c,), 'nb')]


def _bn(name, c):
    return [(name + '.weight', (c,), 'nw'), (name + '.bias', (c,), 'nb'),
            (name + '.running_mean', (c,), 'rm'),
            (name + '.running_var', (c,), 'rv'),
            (name + '.num_batches_tracked', (), 'nbt')]


def _conv_module(name, cin, cout, k, groups=1):
    """mmcv ConvModule with norm_cfg=BN: conv has no bias (bias='auto'),
    norm registered as '<name>.bn'."""
    return _conv(name + '.conv', cin, cout, k, groups, bias=False) + \
        _bn(name + '.bn', cout)


def mit_shapes(cfg, prefix='backbone.'):
    """Parameter/buffer shapes of MixVisionTransformer (mix_transformer.py)."""
    E, depths, srs = cfg['embed_dims'], cfg['depths'], cfg['sr_ratios']
    hid = [int(c * cfg['mlp_ratio']) for c in E]
    s = []
    cin = cfg.get('in_chans', 3)
    for i in range(4):  # patch_embed1..4 are registered before the blocks
        k = 7 if i == 0 else 3
        p = f'{prefix}patch_embed{i + 1}'
        s += _conv(p + '.proj', cin, E[i], k)
        s += _ln(p + '.norm', E[i])
        cin = E[i]
    for i in range(4):
        C = E[i]
        for j in range(depths[i]):
            p = f'{prefix}block{i + 1}.{j}'
            s += _ln(p + '.norm1', C)
            s += _linear(p + '.attn.q', C, C)
            s += _linear(p + '.attn.kv', C, 2 * C)
            s += _linear(p + '.attn.proj', C, C)
            if srs[i] > 1:
                s += _conv(p + '.attn.sr', C, C, srs[i])
                s += _ln(p + '.attn.norm', C)
            s += _ln(p + '.norm2', C)
            s += _linear(p + '.mlp.fc1', C, hid[i])
            s += _conv(p + '.mlp.dwconv.dwconv', hid[i], hid[i], 3,
                       groups=hid[i])
            s += _linear(p + '.mlp.fc2', hid[i], C)
        s += _ln(f'{prefix}norm{i + 1}', C)
    return s


def daformer_head_shapes(hcfg, prefix='decode_head.', fusion='aspp'):
    """DAFormerHead (daformer_head.py). fusion='aspp' is the DAFormer
    sep-ASPP fusion; fusion='conv' is the HRDA scale-attention variant
    (1x1 ConvModule, i.e. the SegFormer MLP decoder)."""
    ins, ch, ed, nc = (hcfg['in_channels'], hcfg['channels'],
                       hcfg['embed_dims'], hcfg['num_classes'])
    s = []
    # BaseDecodeHead registers conv_seg first (dropout has no params)
    s += _conv(prefix + 'conv_seg', ch, nc, 1)
    for i, c in enumerate(ins):
        s += _linear(f'{prefix}embed_layers.{i}.proj', c, ed)
    cat = ed * len(ins)
    f = prefix + 'fuse_layer'
    if fusion == 'aspp':
        for k, d in enumerate(hcfg['dilations']):
            p = f'{f}.aspp_modules.{k}'
            if d == 1:
                s += _conv_module(p, cat, ch, 1)
            else:  # mmcv DepthwiseSeparableConvModule
                s += _conv_module(p + '.depthwise_conv', cat, cat, 3,
                                  groups=cat)
                s += _conv_module(p + '.pointwise_conv', cat, ch, 1)
        s += _conv_module(f + '.bottleneck', len(hcfg['dilations']) * ch,
                          ch, 3)
    elif fusion == 'conv':
        s += _conv_module(f, cat, ch, 1)
    else:
        raise ValueError(fusion)
    return s


def attention_head_cfg(hcfg, attention_embed_dim=None, classwise=True):
    """HRDAHead.__init__: attn_cfg = head kwargs with channels and
    decoder_params.embed_dims replaced by attention_embed_dim (default 256),
    num_classes 1 if not attention_classwise."""
    a = dict(hcfg)
    if attention_embed_dim is not None:
        a['channels'] = attention_embed_dim
        a['embed_dims'] = attention_embed_dim
    if not classwise:
        a['num_classes'] = 1
    return a


def hrda_head_shapes(hcfg, prefix='decode_head.', attention_embed_dim=None,
                     classwise=True):
    """HRDAHead: its own conv_seg/dropout are deleted, then `head` and
    `scale_attention` are registered in that order."""
    return daformer_head_shapes(hcfg, prefix + 'head.', 'aspp') + \
        daformer_head_shapes(
            attention_head_cfg(hcfg, attention_embed_dim, classwise),
            prefix + 'scale_attention.', 'conv')


def param_count(shapes):
    """Number of trainable parameters (BN running stats are buffers)."""
    return sum(int(np.prod(sh)) for _, sh, r in shapes
               if r not in ('rm', 'rv', 'nbt'))


# ----------------------------------------------------------------------------
# Primitive ops (float64)
# ----------------------------------------------------------------------------

def linear(x, w, b=None):
    y = x @ w.T
    if b is not None:
        y = y + b
    return y


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # biased, like torch
    return (x - mu) / np.sqrt(var + eps) * w + b


def batch_norm_eval(x, sd, p, eps=BN_EPS):
    rm, rv = sd[p + '.running_mean'], sd[p + '.running_var']
    w, b = sd[p + '.weight'], sd[p + '.bias']
    sc = (w / np.sqrt(rv + eps))[None, :, None, None]
    return (x - rm[None, :, None, None]) * sc + b[None, :, None, None]


def relu(x):
    return np.maximum(x, 0.0)


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    """nn.GELU() default: exact 0.5*x*(1+erf(x/sqrt 2))."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def im2col(x, k, stride, padding, dilation):
    """x (N,C,H,W) -> cols (N, C, k, k, Ho, Wo) with zero padding."""
    n, c, h, w = x.shape
    ho = (h + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, k, k, ho, wo), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            y0, x0 = i * dilation, j * dilation
            cols[:, :, i, j] = xp[:, :, y0:y0 + stride * (ho - 1) + 1:stride,
                                  x0:x0 + stride * (wo - 1) + 1:stride]
    return cols


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d semantics (cross-correlation), NCHW,
    weight (O, C/groups, k, k)."""
    n, c, _, _ = x.shape
    o, cg, k, k2 = w.shape
    assert k == k2 and cg * groups == c and o % groups == 0
    cols = im2col(x, k, stride, padding, dilation)
    ho, wo = cols.shape[-2:]
    cols = cols.reshape(n, groups, cg * k * k, ho * wo)
    wg = w.reshape(groups, o // groups, cg * k * k)
    y = np.einsum('gok,ngkl->ngol', wg, cols, optimize=True)
    y = y.reshape(n, o, ho, wo)
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def _src_index(out_size, in_size, scale):
    """PyTorch area_pixel_compute_source_index for bilinear,
    align_corners=False: src = max(0, (dst+0.5)*scale - 0.5)."""
    dst = np.arange(out_size, dtype=np.float64)
    src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    return i0, i1, lam


def resize_bilinear(x, size=None, scale_factor=None):
    """F.interpolate(x, size|scale_factor, mode='bilinear',
    align_corners=False) as in torch 1.7 (mmseg.ops.resize).

    With `size`, the source scale is in/out. With `scale_factor` (and
    recompute_scale_factor=None, the torch>=1.6 default) the output size is
    floor(in*s) and the source scale is 1/s (identical to in/out whenever
    in*s is an integer, which holds for every use in HRDA)."""
    n, c, h, w = x.shape
    if size is not None:
        ho, wo = size
        sh, sw = h / ho, w / wo
    else:
        ho, wo = int(math.floor(h * scale_factor)), int(
            math.floor(w * scale_factor))
        sh = sw = 1.0 / scale_factor
    if (ho, wo) == (h, w) and sh == 1.0 and sw == 1.0:
        return x.copy()
    y0, y1, ly = _src_index(ho, h, sh)
    x0, x1, lx = _src_index(wo, w, sw)
    ly = ly[:, None]
    t = x[:, :, y0, :] * (1 - ly) + x[:, :, y1, :] * ly
    return t[:, :, :, x0] * (1 - lx) + t[:, :, :, x1] * lx


# ----------------------------------------------------------------------------
# MiT encoder (mmseg/models/backbones/mix_transformer.py)
# ----------------------------------------------------------------------------

def _tokens_to_map(t, h, w):
    n, l, c = t.shape
    return t.transpose(0, 2, 1).reshape(n, c, h, w)


def _map_to_tokens(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h * w).transpose(0, 2, 1)


def overlap_patch_embed(sd, p, x, k, stride):
    """OverlapPatchEmbed: Conv2d(k, stride, pad k//2) -> tokens -> LN(1e-5)."""
    y = conv2d(x, sd[p + '.proj.weight'], sd[p + '.proj.bias'],
               stride=stride, padding=k // 2)
    _, _, h, w = y.shape
    t = layer_norm(_map_to_tokens(y), sd[p + '.norm.weight'],
                   sd[p + '.norm.bias'], LN_EPS_DEFAULT)
    return t, h, w


def efficient_attention(sd, p, x, h, w, num_heads, sr):
    """Attention: q Linear; optional sr Conv2d(k=s=sr) + LN(1e-5); kv Linear
    (C -> 2C, first C channels = k, next C = v); softmax(q k^T * hd^-0.5) v;
    proj Linear."""
    n, l, c = x.shape
    hd = c // num_heads
    q = linear(x, sd[p + '.q.weight'], sd[p + '.q.bias'])
    q = q.reshape(n, l, num_heads, hd).transpose(0, 2, 1, 3)
    if sr > 1:
        xm = _tokens_to_map(x, h, w)
        xr = conv2d(xm, sd[p + '.sr.weight'], sd[p + '.sr.bias'], stride=sr)
        xr = layer_norm(_map_to_tokens(xr), sd[p + '.norm.weight'],
                        sd[p + '.norm.bias'], LN_EPS_DEFAULT)
    else:
        xr = x
    kv = linear(xr, sd[p + '.kv.weight'], sd[p + '.kv.bias'])
    lk = kv.shape[1]
    kv = kv.reshape(n, lk, 2, num_heads, hd).transpose(2, 0, 3, 1, 4)
    k, v = kv[0], kv[1]
    att = softmax((q @ k.transpose(0, 1, 3, 2)) * hd ** -0.5, axis=-1)
    o = (att @ v).transpose(0, 2, 1, 3).reshape(n, l, c)
    return linear(o, sd[p + '.proj.weight'], sd[p + '.proj.bias'])


def mix_ffn(sd, p, x, h, w):
    """Mlp: fc1 -> DWConv 3x3 (groups=hidden, bias) -> GELU -> fc2."""
    y = linear(x, sd[p + '.fc1.weight'], sd[p + '.fc1.bias'])
    ym = _tokens_to_map(y, h, w)
    ym = conv2d(ym, sd[p + '.dwconv.dwconv.weight'],
                sd[p + '.dwconv.dwconv.bias'], padding=1, groups=ym.shape[1])
    y = gelu(_map_to_tokens(ym))
    return linear(y, sd[p + '.fc2.weight'], sd[p + '.fc2.bias'])


def mit_block(sd, p, x, h, w, num_heads, sr):
    """Block (pre-norm, eps 1e-6): x += attn(norm1(x)); x += mlp(norm2(x))."""
    a = layer_norm(x, sd[p + '.norm1.weight'], sd[p + '.norm1.bias'],
                   LN_EPS_BLOCK)
    x = x + efficient_attention(sd, p + '.attn', a, h, w, num_heads, sr)
    m = layer_norm(x, sd[p + '.norm2.weight'], sd[p + '.norm2.bias'],
                   LN_EPS_BLOCK)
    return x + mix_ffn(sd, p + '.mlp', m, h, w)


def mit_forward(sd, x, cfg, prefix='backbone.'):
    """MixVisionTransformer.forward_features: returns four NCHW maps at
    strides 4, 8, 16, 32."""
    outs = []
    for i in range(4):
        k, s = (7, 4) if i == 0 else (3, 2)
        t, h, w = overlap_patch_embed(sd, f'{prefix}patch_embed{i + 1}', x,
                                      k, s)
        for j in range(cfg['depths'][i]):
            t = mit_block(sd, f'{prefix}block{i + 1}.{j}', t, h, w,
                          cfg['num_heads'][i], cfg['sr_ratios'][i])
        t = layer_norm(t, sd[f'{prefix}norm{i + 1}.weight'],
                       sd[f'{prefix}norm{i + 1}.bias'], LN_EPS_BLOCK)
        x = _tokens_to_map(t, h, w)
        outs.append(x)
    return outs


# ----------------------------------------------------------------------------
# DAFormer head (mmseg/models/decode_heads/daformer_head.py)
# ----------------------------------------------------------------------------

def conv_module(sd, p, x, padding=0, dilation=1, groups=1):
    """mmcv ConvModule(conv(no bias) -> BN(eval) -> ReLU)."""
    y = conv2d(x, sd[p + '.conv.weight'], None, padding=padding,
               dilation=dilation, groups=groups)
    return relu(batch_norm_eval(y, sd, p + '.bn'))


def aspp_wrapper(sd, p, x, dilations):
    """ASPPWrapper(sep=True, pool=False, context_cfg=None): branch outputs
    concatenated in dilation order, then 3x3 bottleneck ConvModule."""
    outs = []
    for k, d in enumerate(dilations):
        q = f'{p}.aspp_modules.{k}'
        if d == 1:
            outs.append(conv_module(sd, q, x))
        else:
            y = conv_module(sd, q + '.depthwise_conv', x, padding=d,
                            dilation=d, groups=x.shape[1])
            outs.append(conv_module(sd, q + '.pointwise_conv', y))
    return conv_module(sd, p + '.bottleneck', np.concatenate(outs, axis=1),
                       padding=1)


def daformer_head_forward(sd, feats, hcfg, prefix='decode_head.',
                          fusion='aspp'):
    """DAFormerHead.forward: per level Linear embed -> map -> bilinear resize
    (align_corners=False) to level-0 size only if the size differs (level 0
    is never resampled) -> concat [0,1,2,3] -> fuse_layer -> (Dropout2d eval
    = identity) -> conv_seg 1x1 with bias. Output stride 4."""
    os_size = feats[0].shape[2:]
    cs = []
    for i, f in enumerate(feats):
        p = f'{prefix}embed_layers.{i}.proj'
        e = linear(_map_to_tokens(f), sd[p + '.weight'], sd[p + '.bias'])
        e = _tokens_to_map(e, f.shape[2], f.shape[3])
        if e.shape[2:] != os_size:
            e = resize_bilinear(e, size=os_size)
        cs.append(e)
    x = np.concatenate(cs, axis=1)
    if fusion == 'aspp':
        x = aspp_wrapper(sd, prefix + 'fuse_layer', x, hcfg['dilations'])
    else:
        x = conv_module(sd, prefix + 'fuse_layer', x)
    return conv2d(x, sd[prefix + 'conv_seg.weight'],
                  sd[prefix + 'conv_seg.bias'])


# ----------------------------------------------------------------------------
# HRDA (mmseg/models/decode_heads/hrda_head.py,
#       mmseg/models/segmentors/hrda_encoder_decoder.py)
# ----------------------------------------------------------------------------

HRDA_OS = 4  # HRDAHead.os for DAFormerHead


def scale_box(box, scale):
    """hrda_head.scale_box: (y1, y2, x1, x2) -> int(v / scale)."""
    return tuple(int(v / scale) for v in box)


def hrda_fuse(lr_seg, hr_seg, att, box=None, lr_scale=0.5, hr_scale=1.0,
              os=HRDA_OS):
    """HRDAHead.forward after the three head evaluations.

    lr_seg: head(context feats) at LR output stride; hr_seg: head(detail
    feats) (or slide-averaged logits when box is None); att: sigmoid of the
    attention head (before masking). box = (y1, y2, x1, x2) of the detail crop
    in full-resolution pixels, or None (inference, no mask, hr_seg covers the
    whole image). Returns (fused, att_masked)."""
    if box is not None:
        mask = np.zeros((lr_seg.shape[0], 1) + lr_seg.shape[2:])
        y1, y2, x1, x2 = scale_box(box, os / lr_scale)
        mask[:, :, y1:y2, x1:x2] = 1.0
        att = att * mask
    s = hr_scale / lr_scale
    up_lr = resize_bilinear((1.0 - att) * lr_seg, scale_factor=s)
    att_up = resize_bilinear(att, scale_factor=s)
    if box is not None:
        hr_ins = np.zeros_like(up_lr)
        y1, y2, x1, x2 = scale_box(box, os)
        hr_ins[:, :, y1:y2, x1:x2] = hr_seg
    else:
        hr_ins = hr_seg
    return att_up * hr_ins + up_lr, att


def crop(img, box):
    y1, y2, x1, x2 = box
    return img[:, :, y1:y2, x1:x2]


def hrda_seg_head(sd, feats, head_cfg):
    """HRDAHead.head (DAFormerHead, sep-ASPP fusion) under decode_head.head."""
    return daformer_head_forward(sd, feats, head_cfg, 'decode_head.head.',
                                 'aspp')


def context_heads(sd, lr_feats, head_cfg, att_cfg):
    """On the context features: raw lr_seg = head(lr_feats) and
    att = sigmoid(scale_attention(lr_feats)) (HRDAHead.get_scale_attention)."""
    lr_seg = hrda_seg_head(sd, lr_feats, head_cfg)
    att = sigmoid(daformer_head_forward(sd, lr_feats, att_cfg,
                                        'decode_head.scale_attention.',
                                        'conv'))
    return lr_seg, att


def hrda_train_forward(sd, img, box, mit_cfg, head_cfg, att_cfg,
                       scales=(0.5, 1.0)):
    """HRDAEncoderDecoder._forward_train_features + HRDAHead.forward with a
    fixed crop box (eval-mode layers). `img` is the full-resolution crop,
    `box` = (y1, y2, x1, x2) in its pixels. Returns a dict with lr_seg (raw
    head output on the context), hr_seg, att (sigmoid, unmasked), fused."""
    lr_scale, hr_scale = sorted(scales)
    assert hr_scale == 1.0
    ctx = resize_bilinear(img, scale_factor=lr_scale)
    det = crop(img, box)
    lr_seg, att = context_heads(sd, mit_forward(sd, ctx, mit_cfg), head_cfg,
                                att_cfg)
    hr_seg = hrda_seg_head(sd, mit_forward(sd, det, mit_cfg), head_cfg)
    fused, _ = hrda_fuse(lr_seg, hr_seg, att, box, lr_scale, hr_scale)
    return dict(lr_seg=lr_seg, hr_seg=hr_seg, att=att, fused=fused)


def slide_boxes(h_img, w_img, crop_size, overlapping=True):
    """HRDAEncoderDecoder.extract_slide_feat window boxes (y1, y2, x1, x2),
    row-major over (h_idx, w_idx)."""
    h_crop, w_crop = crop_size
    if overlapping:
        h_stride, w_stride = h_crop // 2, w_crop // 2
    else:
        h_stride, w_stride = h_crop, w_crop
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    boxes = []
    for hi in range(h_grids):
        for wi in range(w_grids):
            y1, x1 = hi * h_stride, wi * w_stride
            y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            boxes.append((y1, y2, x1, x2))
    return boxes


def decode_hr_slide(crop_logits, boxes, bs, num_classes, os=HRDA_OS):
    """HRDAHead.decode_hr for the slide dict: crop_logits is the head output
    on all crops stacked crop-major ((crop*bs), nc, h, w); logits are summed
    into a zero canvas of size (max y2/os, max x2/os) and divided by a count
    matrix."""
    sb = [scale_box(b, os) for b in boxes]
    h = max(b[1] for b in sb)
    w = max(b[3] for b in sb)
    preds = np.zeros((bs, num_classes, h, w))
    count = np.zeros((bs, 1, h, w))
    for i, (y1, y2, x1, x2) in enumerate(sb):
        preds[:, :, y1:y2, x1:x2] += crop_logits[i * bs:(i + 1) * bs]
        count[:, :, y1:y2, x1:x2] += 1
    assert (count == 0).sum() == 0
    return preds / count


def hrda_slide_inference(sd, img, mit_cfg, head_cfg, att_cfg, hr_crop_size,
                         scales=(0.5, 1.0), resize_to_input=False):
    """HRDAEncoderDecoder.encode_decode with hr_slide_inference=True,
    hr_slide_overlapping=True (used for pseudo-labels and per test window):
    context = whole input x0.5; detail = overlapping windows (stride crop/2),
    head logits averaged in overlaps at output stride 4; fused without mask.
    Returns the fused logits at output stride 4 (or resized to the input
    size if resize_to_input)."""
    lr_scale, hr_scale = sorted(scales)
    assert hr_scale == 1.0
    bs = img.shape[0]
    ctx = resize_bilinear(img, scale_factor=lr_scale)
    lr_feats = mit_forward(sd, ctx, mit_cfg)
    boxes = slide_boxes(img.shape[2], img.shape[3], hr_crop_size)
    crops = np.concatenate([crop(img, b) for b in boxes], axis=0)
    hr_feats = mit_forward(sd, crops, mit_cfg)
    hr_seg = decode_hr_slide(hrda_seg_head(sd, hr_feats, head_cfg), boxes,
                             bs, head_cfg['num_classes'])
    lr_seg, att = context_heads(sd, lr_feats, head_cfg, att_cfg)
    fused, _ = hrda_fuse(lr_seg, hr_seg, att, None, lr_scale, hr_scale)
    if resize_to_input:
        fused = resize_bilinear(fused, size=img.shape[2:])
    return fused


# ----------------------------------------------------------------------------
# safetensors (minimal writer / reader, no dependency)
# ----------------------------------------------------------------------------

_DT = {'F32': ('<f4', 4), 'F64': ('<f8', 8), 'I64': ('<i8', 8),
       'I32': ('<i4', 4)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, np.ndarray, dtype tag). Data laid out in the
    given order; header JSON padded with spaces to a multiple of 8."""
    header = {}
    if metadata is not None:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    blobs, off = [], 0
    for name, arr, tag in tensors:
        npdt, _ = _DT[tag]
        b = np.ascontiguousarray(np.asarray(arr).astype(npdt)).tobytes()
        header[name] = {'dtype': tag, 'shape': list(np.shape(arr)),
                        'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(len(hb).to_bytes(8, 'little'))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> np.ndarray (native dtype), metadata dict,
    ordered list of names as laid out in the data section)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    out = {}
    for name, h in header.items():
        npdt, _ = _DT[h['dtype']]
        a, b = h['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype=npdt).reshape(h['shape'])
    order = sorted(header, key=lambda k: header[k]['data_offsets'][0])
    return out, meta, order
