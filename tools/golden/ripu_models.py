#!/usr/bin/python3
"""Golden fixtures of RIPU's models (ripu_spec.md section 3), for java/.../model/RipuModelsTest.

An independent float64 PyTorch port of BIT-DA/RIPU's core/models (resnet.py with
replace_stride_with_dilation [False, True, True] and FrozenBatchNorm2d, classifier.py's
ASPP_Classifier_V2 and DepthwiseSeparableASPP), written by us from the spec and the original
sources; no original code is copied. Tiny widths keep the files small:

  resnet_tiny        torchvision Bottleneck ResNet, width 4, blocks [1, 1, 2, 2] (covers a
                     downsample, the first-block-at-previous-dilation rule of layers 3 and 4,
                     dilations 1/2/4), FrozenBN buffers random (not the identity)
  tiny_deeplabv2     + ASPP_Classifier_V2, dilations 6/12/18/24, 5 classes
  tiny_deeplabv3plus + DepthwiseSeparableASPP with 16 channels (RIPU: 512), a 8-channel
                     shortcut (RIPU: 48), rates 1/6/12/18 + image pooling, 5 classes

For each model, on a batch of 2 images of 37 x 45 (odd sizes): the head's logits, the
encode_decode output (logits resized to the input with align_corners=True, as RIPU's test.py),
and the gradients of L = sum(out * R) for a fixed random R with respect to every parameter and
the image. Inputs (weights, buffers, image, R) are float32 values (stored as F32); the
computation is float64 and its results are stored as F64.

Also writes tiny_deeplabv2 as the two .pth layouts users load: RIPU's train.py checkpoint
({'iteration', 'feature_extractor', 'classifier'}, the extractor's names under 'backbone.') and
a torchvision ImageNet-style encoder state dict (bare names plus fc.weight / fc.bias).

Regenerate (from the repository root; deterministic):

    /usr/bin/python3 tools/golden/ripu_models.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'reference'))
import hrda_reference as R  # noqa: E402  (write_safetensors)

OUT = os.path.join(ROOT, 'java', 'src', 'test', 'resources', 'golden', 'ripu_models')
torch.set_default_dtype(torch.float64)
EXPANSION = 4


def f32(a):
    """Rounded to float32 and back: the stored inputs are exactly the computed ones."""
    return torch.tensor(np.asarray(a, np.float32).astype(np.float64))


class Params:
    """An ordered state dict of float64 tensors drawn from one generator (names as the originals)."""

    def __init__(self, seed):
        self.g = np.random.default_rng(seed)
        self.state = {}

    def conv(self, name, cout, cin, k, bias=False, std=None):
        std = std if std is not None else (2.0 / (cin * k * k)) ** 0.5
        self.state[name + '.weight'] = f32(self.g.normal(0, std, (cout, cin, k, k))).requires_grad_()
        if bias:
            self.state[name + '.bias'] = f32(self.g.uniform(-0.3, 0.3, cout)).requires_grad_()

    def frozen_bn(self, name, c):
        # random buffers so that the layer is not the identity (RIPU loads ImageNet statistics)
        self.state[name + '.weight'] = f32(self.g.uniform(0.5, 1.5, c))
        self.state[name + '.bias'] = f32(self.g.uniform(-0.2, 0.2, c))
        self.state[name + '.running_mean'] = f32(self.g.uniform(-0.2, 0.2, c))
        self.state[name + '.running_var'] = f32(self.g.uniform(0.5, 2.0, c))

    def __getitem__(self, k):
        return self.state[k]


def frozen_bn(x, p, name):
    """core/models/layers.py FrozenBatchNorm2d: no eps."""
    scale = p[name + '.weight'] * p[name + '.running_var'].rsqrt()
    bias = p[name + '.bias'] - p[name + '.running_mean'] * scale
    return x * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


def conv(x, p, name, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(x, p[name + '.weight'], p.state.get(name + '.bias'), stride, padding, dilation, groups)


# ---------------------------------------------------------------- ResNet (torchvision, OS8)

def resnet_layout(width, blocks):
    """(layer, block, inplanes, planes, stride, dilation, downsample) as torchvision's _make_layer
    with replace_stride_with_dilation [False, True, True]."""
    out, inplanes, dilation = [], width, 1
    for i, (nb, dilate) in enumerate(zip(blocks, [False, False, True, True])):
        planes, stride, previous = width << i, (1 if i == 0 else 2), dilation
        if dilate:
            dilation *= stride
            stride = 1
        down = stride != 1 or inplanes != planes * EXPANSION
        out.append((i + 1, 0, inplanes, planes, stride, previous, down))
        inplanes = planes * EXPANSION
        for b in range(1, nb):
            out.append((i + 1, b, inplanes, planes, 1, dilation, False))
    return out


def resnet_params(p, width, blocks):
    p.conv('backbone.conv1', width, 3, 7)
    p.frozen_bn('backbone.bn1', width)
    for layer, b, inplanes, planes, stride, dil, down in resnet_layout(width, blocks):
        n = f'backbone.layer{layer}.{b}'
        p.conv(n + '.conv1', planes, inplanes, 1)
        p.frozen_bn(n + '.bn1', planes)
        p.conv(n + '.conv2', planes, planes, 3)
        p.frozen_bn(n + '.bn2', planes)
        p.conv(n + '.conv3', planes * EXPANSION, planes, 1)
        p.frozen_bn(n + '.bn3', planes * EXPANSION)
        if down:
            p.conv(n + '.downsample.0', planes * EXPANSION, inplanes, 1)
            p.frozen_bn(n + '.downsample.1', planes * EXPANSION)


def resnet_forward(x, p, width, blocks):
    x = F.relu(frozen_bn(conv(x, p, 'backbone.conv1', 2, 3), p, 'backbone.bn1'))
    x = F.max_pool2d(x, 3, 2, 1)
    feats = {}
    for layer, b, inplanes, planes, stride, dil, down in resnet_layout(width, blocks):
        n = f'backbone.layer{layer}.{b}'
        y = F.relu(frozen_bn(conv(x, p, n + '.conv1'), p, n + '.bn1'))
        y = F.relu(frozen_bn(conv(y, p, n + '.conv2', stride, dil, dil), p, n + '.bn2'))
        y = frozen_bn(conv(y, p, n + '.conv3'), p, n + '.bn3')
        idn = frozen_bn(conv(x, p, n + '.downsample.0', stride), p, n + '.downsample.1') if down else x
        x = F.relu(y + idn)
        feats[layer] = x
    return [feats[1], feats[2], feats[3], feats[4]]


# ---------------------------------------------------------------- heads (classifier.py)

V2_DILATIONS = [6, 12, 18, 24]
V3_RATES = [1, 6, 12, 18]


def v2_params(p, cin, classes):
    for i in range(len(V2_DILATIONS)):
        # weights N(0, 0.01); the bias keeps PyTorch's default U(+-1/sqrt(fan_in))
        p.conv(f'decode_head.conv2d_list.{i}', classes, cin, 3, bias=True, std=0.01)


def v2_forward(feats, p):
    x = feats[3]
    out = conv(x, p, 'decode_head.conv2d_list.0', 1, V2_DILATIONS[0], V2_DILATIONS[0])
    for i, d in enumerate(V2_DILATIONS[1:], 1):
        out = out + conv(x, p, f'decode_head.conv2d_list.{i}', 1, d, d)
    return out


def sep_params(p, name, cin, cout):
    p.conv(name + '.depthwise_conv', cin, 1, 3)
    p.frozen_bn(name + '.depthwise_bn', cin)
    p.conv(name + '.pointwise_conv', cout, cin, 1)
    p.frozen_bn(name + '.pointwise_bn', cout)


def sep_forward(x, p, name, dilation):
    x = F.relu(frozen_bn(conv(x, p, name + '.depthwise_conv', 1, dilation, dilation, x.shape[1]), p, name + '.depthwise_bn'))
    return F.relu(frozen_bn(conv(x, p, name + '.pointwise_conv'), p, name + '.pointwise_bn'))


def v3_params(p, cin, low_in, ch, low, classes):
    h = 'decode_head.'
    for i, d in enumerate(V3_RATES):
        if d == 1:
            p.conv(h + f'parallel_branches.{i}.0', ch, cin, 1)
            p.frozen_bn(h + f'parallel_branches.{i}.1', ch)
        else:
            sep_params(p, h + f'parallel_branches.{i}', cin, ch)
    p.conv(h + 'global_branch.1', ch, cin, 1)
    p.frozen_bn(h + 'global_branch.2', ch)
    p.conv(h + 'bottleneck.0', ch, ch * (len(V3_RATES) + 1), 3)
    p.frozen_bn(h + 'bottleneck.1', ch)
    p.conv(h + 'shortcut.0', low, low_in, 1)
    p.frozen_bn(h + 'shortcut.1', low)
    sep_params(p, h + 'decoder.0', ch + low, ch)
    sep_params(p, h + 'decoder.1', ch, ch)
    p.conv(h + 'decoder.3', classes, ch, 1, bias=True)


def v3_forward(feats, p, drop=None):
    """drop: the decoder's Dropout2d(0.1) in training (a callable on the map), None in evaluation."""
    h = 'decode_head.'
    low_feat, x = feats[0], feats[3]
    outs = []
    for i, d in enumerate(V3_RATES):
        if d == 1:
            outs.append(F.relu(frozen_bn(conv(x, p, h + f'parallel_branches.{i}.0'), p, h + f'parallel_branches.{i}.1')))
        else:
            outs.append(sep_forward(x, p, h + f'parallel_branches.{i}', d))
    g = F.adaptive_avg_pool2d(x, (1, 1))
    g = F.relu(frozen_bn(conv(g, p, h + 'global_branch.1'), p, h + 'global_branch.2'))
    outs.append(F.interpolate(g, size=x.shape[2:], mode='bilinear', align_corners=True))
    a = F.relu(frozen_bn(conv(torch.cat(outs, 1), p, h + 'bottleneck.0', 1, 1), p, h + 'bottleneck.1'))
    a = F.interpolate(a, size=low_feat.shape[2:], mode='bilinear', align_corners=True)
    s = F.relu(frozen_bn(conv(low_feat, p, h + 'shortcut.0'), p, h + 'shortcut.1'))
    y = torch.cat([a, s], 1)
    y = sep_forward(y, p, h + 'decoder.0', 1)
    y = sep_forward(y, p, h + 'decoder.1', 1)
    if drop is not None:
        y = drop(y)  # decoder.2
    return conv(y, p, h + 'decoder.3')


# ---------------------------------------------------------------- fixtures

WIDTH, BLOCKS, CLASSES, V3_CH, V3_LOW = 4, [1, 1, 2, 2], 5, 16, 8
IMG = (2, 3, 37, 45)


def build(model, seed):
    p = Params(seed)
    resnet_params(p, WIDTH, BLOCKS)
    cin, low_in = WIDTH * 8 * EXPANSION, WIDTH * EXPANSION
    if model == 'tiny_deeplabv2':
        v2_params(p, cin, CLASSES)
        head = v2_forward
    else:
        v3_params(p, cin, low_in, V3_CH, V3_LOW, CLASSES)
        head = v3_forward
    return p, head


def run(model, seed):
    p, head = build(model, seed)
    g = np.random.default_rng(seed + 1)
    img = f32(g.normal(0, 1, IMG)).requires_grad_()
    logits = head(resnet_forward(img, p, WIDTH, BLOCKS), p)
    out = F.interpolate(logits, size=IMG[2:], mode='bilinear', align_corners=True)
    r = f32(g.normal(0, 1, out.shape))
    (out * r).sum().backward()
    tensors = [('input', img.detach().numpy(), 'F32'), ('R', r.numpy(), 'F32')]
    for k, v in p.state.items():
        tensors.append(('state.' + k, v.detach().numpy(), 'F32'))
    tensors.append(('logits', logits.detach().numpy(), 'F64'))
    tensors.append(('out', out.detach().numpy(), 'F64'))
    tensors.append(('grad.input', img.grad.numpy(), 'F64'))
    for k, v in p.state.items():
        if v.requires_grad:
            tensors.append(('grad.' + k, v.grad.numpy(), 'F64'))
    meta = {'model': model, 'seed': seed, 'config': json.dumps({'width': WIDTH, 'blocks': BLOCKS, 'classes': CLASSES,
                                                                  'v3_channels': V3_CH, 'v3_low': V3_LOW, 'image': list(IMG)})}
    path = os.path.join(OUT, model + '.safetensors')
    R.write_safetensors(path, tensors, meta)
    print(f'{path}: {os.path.getsize(path)} bytes, |logits| {float(logits.abs().max()):.3g}, '
          f'{sum(1 for v in p.state.values() if v.requires_grad)} parameters with gradients')
    return p


def write_pth(p):
    """tiny_deeplabv2 in RIPU's train.py layout and as a torchvision-style encoder file (float32)."""
    def t(v):
        return v.detach().to(torch.float32).clone()
    fe = {k: t(v) for k, v in p.state.items() if k.startswith('backbone.')}
    cls = {k[len('decode_head.'):]: t(v) for k, v in p.state.items() if k.startswith('decode_head.')}
    torch.save({'iteration': 7, 'feature_extractor': fe, 'classifier': cls}, os.path.join(OUT, 'tiny_deeplabv2_ripu.pth'))
    tv = {k[len('backbone.'):]: t(v) for k, v in p.state.items() if k.startswith('backbone.')}
    for k in [k for k in tv if k.endswith('running_var')]:
        tv[k[:-len('running_var')] + 'num_batches_tracked'] = torch.tensor(0, dtype=torch.int64)
    tv['fc.weight'] = torch.zeros(10, WIDTH * 8 * EXPANSION, dtype=torch.float32)
    tv['fc.bias'] = torch.zeros(10, dtype=torch.float32)
    torch.save(tv, os.path.join(OUT, 'tiny_resnet_torchvision.pth'))


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    p = run('tiny_deeplabv2', 20261203)
    run('tiny_deeplabv3plus', 20261204)
    write_pth(p)


if __name__ == '__main__':
    main()
