#!/usr/bin/python3
"""Golden RIPU training iterations (java/src/test/resources/golden/ripu_iteration/), for
java/.../ripu/RipuIterationGoldenTest.

An independent float64 PyTorch implementation of BIT-DA/RIPU's train.py iteration, written by us
from ../shared/reference/ripu_spec.md sections 2-3 and the official train.py; no original code
is copied. It composes the models of ripu_models.py (ResNet OS8 with FrozenBN, ASPP_Classifier_V2
and DepthwiseSeparableASPP) and the losses of ripu_losses.py:

  src_out = up(model(src_img)), tgt_out = up(model(tgt_img))   bilinear, align_corners=True, to
                                                               each label's size
  L = CE(src_out, src_label) + 0.1 LCR(src_out, src_label)     (not source-free)
    + CE(tgt_out, tgt_mask)  [only if a target pixel is labelled]
    + 1.0 NL(tgt_out)        (tau 0.05)
  L.backward(); torch.optim.SGD (two groups: backbone at lr, decode_head at 10 lr; momentum 0.9,
  weight decay 5e-4 on both) at lr * (1 - i / max_iter) ** 0.9

for two consecutive iterations (the second uses the momentum buffers of the first) of three cases:

  deeplabv2_ra       tiny DeepLab-v2, source + target, target labels in a few 3x3 regions
  deeplabv3plus_ra   tiny DeepLab-v3+, whose decoder's Dropout2d(0.1) is on in training: the
                     engine's dropout (F.seed(dropout_seed), one SplittableRandom seed per site in
                     forward order: source, then target; dropout_iteration's Dropout class)
  deeplabv2_sf       source-free: target terms only; iteration 0 has no labelled target pixel (the
                     CE term is skipped, as train.py), iteration 1 has some

Source images are 37 x 45, target images 33 x 41 (odd, and different, as RIPU's 1280x720 source
and 1280x640 target). The base lr is per case (1e-5 for DeepLab-v2, 1e-3 for v3+; the decode head at 10x):
the tiny ResNet's random FrozenBN statistics leave its features at ~16 (v2) and ~4 (v3+), where
RIPU's 2.5e-4 would make the second iteration's loss explode.

Inputs are float32 values (stored as F32); the computation is float64; gradients, the parameter
updates (after - before, computed in float64) are stored as F32 (rounding 6e-8 of each tensor; the
momentum buffer is -update / (the parameter's lr), so it is not stored), the loss terms as F64. Each iteration also records PyTorch's own float32 error
(the same two iterations run in float32 from the same state, max |f32 - f64| / max |f64| per group),
the bound of the Java float32 test.

Regenerate (from the repository root; deterministic, byte for byte, about 10 s):

    /usr/bin/python3 tools/golden/ripu_iteration.py
"""
import argparse
import json
import os
import sys

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ripu_models as M  # noqa: E402
import ripu_losses as L  # noqa: E402
from dacs_iteration import Dropout, to_signed64  # noqa: E402
from hrda_reference import write_safetensors  # noqa: E402  (on the path through ripu_models)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float64)

OUT = os.path.join(M.ROOT, 'java', 'src', 'test', 'resources', 'golden', 'ripu_iteration')
IGNORE = 255
CONFIG = dict(momentum=0.9, weight_decay=5e-4, head_lr_mult=10.0, max_iters=10, power=0.9,
              lcr_weight=0.1, nl_weight=1.0, tau=L.TAU, batch=2, src_size=[37, 45], tgt_size=[33, 41],
              dropout=0.1, iterations=2)
CASES = {
    # name: (model, seed, source_free, labelled regions per target image at iteration 0 and 1, base lr)
    'deeplabv2_ra': ('tiny_deeplabv2', 20261205, False, (3, 4), 1e-5),
    'deeplabv3plus_ra': ('tiny_deeplabv3plus', 20261206, False, (2, 3), 1e-3),
    'deeplabv2_sf': ('tiny_deeplabv2', 20261207, True, (0, 3), 1e-5),
}


class State:
    """A state dict with the interface ripu_models' functions read (p[name], p.state)."""

    def __init__(self, state):
        self.state = state

    def __getitem__(self, k):
        return self.state[k]


def initial_state(model, seed):
    """The initial state dict and the names of the trained parameters (convolution weights and
    biases; FrozenBN holds buffers), in state order."""
    p, _ = M.build(model, seed)
    return {k: v.detach().clone() for k, v in p.state.items()}, [k for k, v in p.state.items() if v.requires_grad]


def forward(model, S, img, drop):
    feats = M.resnet_forward(img, S, M.WIDTH, M.BLOCKS)
    if model == 'tiny_deeplabv2':
        logits = M.v2_forward(feats, S)
    else:
        logits = M.v3_forward(feats, S, drop=lambda y: drop(y, CONFIG['dropout'], 'channel', 'decode_head.decoder.2'))
    return logits


def upsampled(model, S, img, size, drop):
    return F.interpolate(forward(model, S, img, drop), size=size, mode='bilinear', align_corners=True)


def lr_factor(i):
    return (1 - float(i) / CONFIG['max_iters']) ** CONFIG['power']


def make_inputs(rng, regions):
    b, (sh, sw), (th, tw) = CONFIG['batch'], CONFIG['src_size'], CONFIG['tgt_size']
    src = M.f32(rng.normal(0, 1, (b, 3, sh, sw)))
    tgt = M.f32(rng.normal(0, 1, (b, 3, th, tw)))
    src_label = torch.tensor(L.blob_labels(rng, b, sh, sw, M.CLASSES))
    tgt_gt = L.blob_labels(rng, b, th, tw, M.CLASSES)
    tgt_mask = torch.tensor(L.active_mask(rng, tgt_gt, regions))
    assert (src_label == IGNORE).any() and (src_label != IGNORE).any()
    return {'src_img': src, 'tgt_img': tgt, 'src_label': src_label, 'tgt_label': tgt_mask}


class Iteration:
    """One case's two iterations in one dtype, from a given initial state."""

    def __init__(self, model, source_free, init, names, dtype, lr):
        self.model, self.source_free, self.dtype = model, source_free, dtype
        self.names = names
        self.state = {k: v.to(dtype).clone().requires_grad_(k in self.names) for k, v in init.items()}
        head = [self.state[k] for k in self.names if k.startswith('decode_head.')]
        body = [self.state[k] for k in self.names if not k.startswith('decode_head.')]
        c = CONFIG
        self.lr = lr
        self.opt = torch.optim.SGD([{'params': body, 'lr': lr}, {'params': head, 'lr': lr * c['head_lr_mult']}],
                                   lr=lr, momentum=c['momentum'], weight_decay=c['weight_decay'])

    def step(self, i, inp, seed):
        S, dt = State(self.state), self.dtype
        drop = Dropout(seed)
        for p in self.state.values():
            p.grad = None
        terms, counts = {}, {}
        loss = 0
        if not self.source_free:
            lab = inp['src_label']
            out = upsampled(self.model, S, inp['src_img'].to(dt), lab.shape[1:], drop)
            ce = L.cross_entropy(out, lab)
            lcr, counts['lcr_pixels'] = L.local_consistency(out, lab)
            terms['src.loss_seg'] = ce
            terms['src.loss_lcr'] = CONFIG['lcr_weight'] * lcr
            loss = ce + CONFIG['lcr_weight'] * lcr
        lab = inp['tgt_label']
        out = upsampled(self.model, S, inp['tgt_img'].to(dt), lab.shape[1:], drop)
        counts['tgt_labelled'] = int((lab != IGNORE).sum())
        if counts['tgt_labelled'] > 0:
            terms['tgt.loss_seg'] = L.cross_entropy(out, lab)
            loss = loss + terms['tgt.loss_seg']
        nl, counts['nl_pairs'] = L.negative_learning(out, CONFIG['tau'])
        terms['tgt.loss_nl'] = CONFIG['nl_weight'] * nl
        loss = loss + terms['tgt.loss_nl']
        terms['loss'] = loss
        loss.backward()
        before = {k: self.state[k].detach().clone() for k in self.names}
        grads = {k: self.state[k].grad.detach().clone() for k in self.names}
        f = lr_factor(i)
        self.opt.param_groups[0]['lr'] = self.lr * f
        self.opt.param_groups[1]['lr'] = self.lr * CONFIG['head_lr_mult'] * f
        self.opt.step()
        update = {k: self.state[k].detach() - before[k] for k in self.names}
        buf = {k: self.opt.state[self.state[k]]['momentum_buffer'].detach().clone() for k in self.names}
        after = {k: self.state[k].detach().clone() for k in self.names}
        return {'loss': {k: float(v) for k, v in terms.items()}, 'grad': grads, 'update': update, 'momentum': buf, 'after': after,
                'counts': counts, 'sites': drop.sites, 'lr_factor': f}


def rel_error(a, b):
    """max over tensors of max |a - b| / max |b|."""
    worst = 0.0
    for k in b:
        ref = b[k].double() if isinstance(b[k], torch.Tensor) else torch.tensor(b[k])
        got = a[k].double() if isinstance(a[k], torch.Tensor) else torch.tensor(a[k])
        scale = float(ref.abs().max())
        if scale > 0:
            worst = max(worst, float((got - ref).abs().max()) / scale)
    return worst


def build_case(name, out_dir=OUT):
    model, seed, source_free, regions, lr = CASES[name]
    init, names = initial_state(model, seed)
    rng = np.random.default_rng(seed + 100)
    seeds = [to_signed64(int(s)) for s in rng.integers(0, 2 ** 63, 2, dtype=np.int64)]
    inputs = [make_inputs(rng, regions[k]) for k in range(CONFIG['iterations'])]
    r64 = Iteration(model, source_free, init, names, torch.float64, lr)
    r32 = Iteration(model, source_free, init, names, torch.float32, lr)
    tensors = [('init.' + k, v.numpy(), 'F32') for k, v in init.items()]
    meta = {'config': dict(CONFIG, model=model, source_free=source_free, case=name, lr=lr)}
    for k in range(CONFIG['iterations']):
        a, b = r64.step(k, inputs[k], seeds[k]), r32.step(k, inputs[k], seeds[k])
        p = f'iter{k}.'
        assert 0 < a['counts']['nl_pairs'] < inputs[k]['tgt_label'].numel() * M.CLASSES, a['counts']
        assert not source_free or 'src.loss_seg' not in a['loss']
        for key in ('src_img', 'tgt_img'):
            tensors.append((p + 'input.' + key, inputs[k][key].numpy(), 'F32'))
        for key in ('src_label', 'tgt_label'):
            tensors.append((p + 'input.' + key, inputs[k][key].numpy().astype(np.int32), 'I32'))
        for term, v in a['loss'].items():
            tensors.append((p + 'loss.' + term, np.array([v]), 'F64'))
        for group in ('grad', 'update'):  # the momentum buffer is -update / (lr of the group)
            for n, v in a[group].items():
                tensors.append((p + group + '.' + n, v.numpy(), 'F32'))
        meta[p + 'draws'] = {'dropout_seed': seeds[k], 'lr_factor': a['lr_factor']}
        meta[p + 'dropout_sites'] = a['sites']
        meta[p + 'counts'] = a['counts']
        meta[p + 'torch_f32_error'] = {g: rel_error(b[g], a[g]) for g in ('loss', 'grad', 'update', 'momentum', 'after')}
    path = os.path.join(out_dir, name + '.safetensors')
    write_safetensors(path, tensors, {k: json.dumps(v, sort_keys=True) for k, v in meta.items()} | {'torch': torch.__version__})
    print(f'{path}: {os.path.getsize(path)} bytes, {len(r64.names)} parameters '
          f'({sum(init[n].numel() for n in r64.names)} weights), losses '
          + ', '.join(f'{t} {v:.4g}' for t, v in a['loss'].items())
          + f'; torch f32 error {meta[p + "torch_f32_error"]}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out-dir', default=OUT)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for name in CASES:
        build_case(name, a.out_dir)


if __name__ == '__main__':
    main()
