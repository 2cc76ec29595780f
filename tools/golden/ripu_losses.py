#!/usr/bin/python3
"""Golden fixtures for RIPU's losses and SGD (java/src/test/resources/golden/ripu_losses/).

An independent float64 PyTorch oracle, written by us from ../shared/reference/ripu_spec.md 2-3
and the official code (BIT-DA/RIPU core/loss/negative_learning_loss.py,
core/loss/local_consistent_loss.py, core/loss/boundary.py, core/solver/build.py, train.py); no
original code is copied. Autograd gives the logit gradients.

  negative learning  L = -sum M log(1 - p + 1e-6) / sum M,  M = [p < tau] detached, p = softmax
  LCR ('l1')         L = mean over B of sum_c |p - avg3x3_replicate(p)|,
                     B = [conv2d(label.float(), laplacian8, zero pad).long() != 0] & (label != 255)
  CE                 nn.CrossEntropyLoss(ignore_index=255): mean over the labelled pixels
  RIPU sum           CE(src) + CE(tgt mask, if any labelled) + 0.1 LCR(src) + 1.0 NL(tgt)
  SGD                torch.optim.SGD steps with the poly factor (1 - i/max_iter)^0.9

Inputs are rounded to float32 first (so an f32 run sees exactly the stored inputs); every
computation is float64. Needs Debian's PyTorch 1.13: run from the repository root with

    /usr/bin/python3 tools/golden/ripu_losses.py

It rewrites ripu_losses.safetensors byte for byte (fixed seeds, single thread).
"""
import json
import os
import sys

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'reference'))
from hrda_reference import write_safetensors  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
IGNORE = 255
TAU = 0.05
OUT = 'java/src/test/resources/golden/ripu_losses/ripu_losses.safetensors'


def f32_exact(x):
    return x.float().double()


def negative_learning(logits, tau=TAU):
    p = torch.softmax(logits, dim=1)
    mask = (p < tau).detach()
    return -(mask * torch.log(1 - p + 1e-6)).sum() / mask.sum(), int(mask.sum())


def boundary(label):
    """8-neighbour Laplacian of the label values with zero padding, != 0 (boundary.py, 3-D case)."""
    k = torch.tensor([[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]], dtype=torch.float64).view(1, 1, 3, 3)
    out = F.conv2d(label.double().unsqueeze(1), k, padding=1).long().squeeze(1)
    return out != 0


def local_consistency(logits, label):
    c = logits.shape[1]
    p = torch.softmax(logits, dim=1)
    mean = F.conv2d(F.pad(p, (1, 1, 1, 1), mode='replicate'), torch.ones(c, 1, 3, 3, dtype=p.dtype) / 9, groups=c)
    d = (p - mean).abs().sum(dim=1)
    mask = boundary(label) & (label != IGNORE)
    return d[mask].mean(), int(mask.sum())


def cross_entropy(logits, label):
    return F.cross_entropy(logits, label, ignore_index=IGNORE)


def blob_labels(g, n, h, w, k, ignore_frac=0.15):
    """Piecewise-constant label maps: a background class, random rectangles of other classes, an
    ignored (255) rectangle and a few isolated pixels (boundaries of every kind)."""
    lab = np.zeros((n, h, w), dtype=np.int64)
    for b in range(n):
        lab[b] = g.integers(0, k)
        for _ in range(4):
            y0, x0 = g.integers(0, h), g.integers(0, w)
            lab[b, y0:y0 + g.integers(1, h + 1), x0:x0 + g.integers(1, w + 1)] = g.integers(0, k)
        if g.random() < 0.9:
            y0, x0 = g.integers(0, h), g.integers(0, w)
            lab[b, y0:y0 + max(1, int(h * ignore_frac * 2)), x0:x0 + max(1, int(w * ignore_frac * 2))] = IGNORE
        for _ in range(3):
            lab[b, g.integers(0, h), g.integers(0, w)] = g.integers(0, k)
    return lab


def active_mask(g, label, regions):
    """RIPU's target mask: 255 everywhere but a few 3x3 regions that carry the GT."""
    n, h, w = label.shape
    m = np.full_like(label, IGNORE)
    for b in range(n):
        for _ in range(regions):
            y, x = g.integers(0, h), g.integers(0, w)
            m[b, max(0, y - 1):y + 2, max(0, x - 1):x + 2] = label[b, max(0, y - 1):y + 2, max(0, x - 1):x + 2]
    return m


def logits_of(g, n, k, h, w, sd):
    return f32_exact(torch.tensor(g.normal(0, sd, (n, k, h, w)), dtype=torch.float64))


def grad_of(loss, x):
    (gx,) = torch.autograd.grad(loss, x)
    return gx


def main():
    tensors, meta = [], {}

    def put(name, arr, tag='F64'):
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().clone().numpy()  # a snapshot: .numpy() would share the live parameter's storage
        tensors.append((name, np.array(arr, copy=True), tag))

    g = np.random.default_rng(20240715)
    # ---- negative learning: (name, n, k, h, w, sd) ----
    nl_cases = [('k19', 2, 19, 7, 9, 2.5), ('k5', 1, 5, 11, 6, 2.0), ('k5b', 2, 5, 3, 5, 3.0)]
    for name, n, k, h, w, sd in nl_cases:
        x = logits_of(g, n, k, h, w, sd).requires_grad_(True)
        loss, count = negative_learning(x)
        p = torch.softmax(x, 1)
        assert 0 < count < x.numel() and (p > TAU).any(), name
        put(f'nl.{name}.logits', x.detach())
        put(f'nl.{name}.loss', loss.detach().view(1))
        put(f'nl.{name}.count', np.array([count], dtype=np.int32), 'I32')
        put(f'nl.{name}.grad', grad_of(loss, x))
    meta['nl_cases'] = [c[0] for c in nl_cases]

    # ---- local consistency: (name, n, k, h, w, sd) ----
    lcr_cases = [('k19', 2, 19, 9, 11, 2.0), ('k5', 1, 5, 13, 7, 1.5), ('row', 2, 5, 1, 6, 1.5), ('col', 1, 5, 6, 1, 1.5)]
    for name, n, k, h, w, sd in lcr_cases:
        x = logits_of(g, n, k, h, w, sd).requires_grad_(True)
        lab = torch.tensor(blob_labels(g, n, h, w, k))
        loss, count = local_consistency(x, lab)
        assert 0 < count, (name, count)
        put(f'lcr.{name}.logits', x.detach())
        put(f'lcr.{name}.labels', lab.numpy().astype(np.int32), 'I32')
        put(f'lcr.{name}.boundary', boundary(lab).numpy().astype(np.int32), 'I32')
        put(f'lcr.{name}.loss', loss.detach().view(1))
        put(f'lcr.{name}.count', np.array([count], dtype=np.int32), 'I32')
        put(f'lcr.{name}.grad', grad_of(loss, x))
    meta['lcr_cases'] = [c[0] for c in lcr_cases]

    # ---- the RIPU loss sum on a source and a target batch ----
    n, k, h, w = 2, 19, 10, 13
    xs = logits_of(g, n, k, h, w, 2.0).requires_grad_(True)
    xt = logits_of(g, n, k, h, w, 2.0).requires_grad_(True)
    ls = torch.tensor(blob_labels(g, n, h, w, k))
    lt = torch.tensor(active_mask(g, blob_labels(g, n, h, w, k), 3))
    ce_s, ce_t = cross_entropy(xs, ls), cross_entropy(xt, lt)
    lcr, lcr_n = local_consistency(xs, ls)
    nl, nl_n = negative_learning(xt)
    total = ce_s + ce_t + 0.1 * lcr + 1.0 * nl
    gs, gt = torch.autograd.grad(total, (xs, xt))
    put('ripu.src_logits', xs.detach())
    put('ripu.tgt_logits', xt.detach())
    put('ripu.src_labels', ls.numpy().astype(np.int32), 'I32')
    put('ripu.tgt_mask', lt.numpy().astype(np.int32), 'I32')
    put('ripu.terms', torch.stack([ce_s, ce_t, lcr, nl, total]).detach())  # unweighted lcr, nl
    put('ripu.counts', np.array([int((ls != IGNORE).sum()), int((lt != IGNORE).sum()), lcr_n, nl_n], dtype=np.int32), 'I32')
    put('ripu.grad_src', gs)
    put('ripu.grad_tgt', gt)
    xs2 = xs.detach().clone().requires_grad_(True)
    put('ce.src.grad', grad_of(cross_entropy(xs2, ls), xs2))
    xt2 = xt.detach().clone().requires_grad_(True)
    put('ce.tgt.grad', grad_of(cross_entropy(xt2, lt), xt2))

    # ---- SGD: (name, lr, momentum, dampening, weight_decay, nesterov, first iteration) ----
    sgd_cases = [('ripu', 0.05, 0.9, 0.0, 5e-4, False, 30000), ('damp', 0.02, 0.8, 0.3, 1e-2, False, 100),
                 ('nesterov', 0.03, 0.9, 0.0, 1e-3, True, 0), ('plain', 0.1, 0.0, 0.0, 5e-4, False, 62000)]
    shapes = {'backbone.layer1.weight': (3, 4), 'decode_head.conv.weight': (5,)}
    steps = 3
    for name, lr, mom, damp, wd, nest, it0 in sgd_cases:
        params = {k_: f32_exact(torch.tensor(g.normal(0, 1, s))).requires_grad_(True) for k_, s in shapes.items()}
        for k_, p in params.items():
            put(f'sgd.{name}.init.{k_}', p.detach())
        groups = [{'params': [params['backbone.layer1.weight']], 'lr': lr},
                  {'params': [params['decode_head.conv.weight']], 'lr': lr * 10}]
        opt = torch.optim.SGD(groups, lr=lr, momentum=mom, dampening=damp, weight_decay=wd, nesterov=nest)
        for s in range(steps):
            factor = (1 - float(it0 + s) / 62500) ** 0.9
            opt.param_groups[0]['lr'] = lr * factor
            opt.param_groups[1]['lr'] = lr * factor * 10
            for k_, p in params.items():
                p.grad = f32_exact(torch.tensor(g.normal(0, 1, p.shape)))
                put(f'sgd.{name}.grad{s}.{k_}', p.grad)
            opt.step()
            for i, (k_, p) in enumerate(params.items()):
                put(f'sgd.{name}.after{s}.{k_}', p.detach())
                if mom != 0:
                    put(f'sgd.{name}.buf{s}.{k_}', opt.state[p]['momentum_buffer'])
    meta['sgd_cases'] = {c[0]: {'lr': c[1], 'momentum': c[2], 'dampening': c[3], 'weight_decay': c[4], 'nesterov': c[5],
                                'iter0': c[6]} for c in sgd_cases}
    meta['sgd'] = {'steps': steps, 'max_iter': 62500, 'power': 0.9, 'head_lr_mult': 10, 'params': list(shapes)}
    meta['tau'] = TAU
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, tensors, {'config': json.dumps(meta, sort_keys=True), 'torch': torch.__version__})
    print(f'wrote {OUT}: {os.path.getsize(OUT)} bytes, {len(tensors)} tensors')


if __name__ == '__main__':
    main()
