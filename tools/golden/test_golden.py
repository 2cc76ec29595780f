#!/usr/bin/python3
"""Self-checks of tools/golden/dacs_iteration.py (run from the repository root):

    /usr/bin/python3 tools/golden/test_golden.py            # all checks (about 3 minutes)
    /usr/bin/python3 tools/golden/test_golden.py --quick    # without the regeneration check
    /usr/bin/python3 tools/golden/test_golden.py -k native  # checks whose name contains 'native'

Each check prints its measured agreement; any failure exits non-zero.
"""

import argparse
import ctypes
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dacs_iteration as D  # noqa: E402

R = D.R
ROOT = D.ROOT

RESULTS = []


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.abs(b).max()), 1e-300)
    return float(np.abs(a - b).max()) / scale


def report(name, value, tol, what='max |diff| / max |ref|'):
    ok = value <= tol
    RESULTS.append((name, ok))
    print(f'  {"ok  " if ok else "FAIL"} {name}: {what} = {value:.3g} (tol {tol:g})')
    return ok


def expect(name, cond, detail=''):
    RESULTS.append((name, bool(cond)))
    print(f'  {"ok  " if cond else "FAIL"} {name}{": " + detail if detail else ""}')


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


# ----------------------------------------------------------------------------------------------
# 1. torch network == numpy reference (tools/reference/hrda_reference.py), eval mode
# ----------------------------------------------------------------------------------------------

def check_reference_parity():
    rng = np.random.default_rng(7)
    # tiny_hrda, batch 2, BN running statistics random (the eval path uses them)
    spec = D.SPECS['tiny_hrda']
    sd = D.random_state(spec.shapes, rng, random_buffers=True)
    S = D.torch_state(sd, spec.shapes, torch.float64, grad=False)
    img = rng.standard_normal((2, 3, 96, 96))
    box = (32, 24)
    with torch.no_grad():
        got = D.hrda_parts_eval(spec, S, t64(img), box)
        slide = D.encode_decode(spec, S, t64(img), bn_train=False)
    ref = R.hrda_train_forward(sd, img, (32, 80, 24, 72), spec.mit, spec.head, spec.att_cfg)
    for k in ('lr_seg', 'hr_seg', 'att', 'fused'):
        report(f'reference_parity.tiny_hrda.{k}', rel_err(got[k].numpy(), ref[k]), 1e-10)
    ref_slide = R.hrda_slide_inference(sd, img, spec.mit, spec.head, spec.att_cfg, (48, 48),
                                       resize_to_input=True)
    report('reference_parity.tiny_hrda.slide_inference', rel_err(slide.numpy(), ref_slide), 1e-10)
    # tiny_daformer
    spec = D.SPECS['tiny_daformer']
    sd = D.random_state(spec.shapes, rng, random_buffers=True)
    S = D.torch_state(sd, spec.shapes, torch.float64, grad=False)
    img = rng.standard_normal((2, 3, 64, 64))
    with torch.no_grad():
        feats = D.mit_forward(S, t64(img), spec.mit)
        logits = D.daformer_head(S, feats, spec.head, 'decode_head.', 'aspp', False)
    rf = R.mit_forward(sd, img, spec.mit)
    for i in range(4):
        report(f'reference_parity.tiny_daformer.feat{i}', rel_err(feats[i].numpy(), rf[i]), 1e-10)
    rl = R.daformer_head_forward(sd, rf, spec.head, 'decode_head.', 'aspp')
    report('reference_parity.tiny_daformer.logits', rel_err(logits.numpy(), rl), 1e-10)
    # state-dict names: the builders' keys are exactly the torch state's
    for name in ('tiny_hrda', 'tiny_daformer', 'hrda_mitb0', 'daformer_mitb0'):
        sp = D.SPECS[name]
        expect(f'reference_parity.{name}.names', len(set(sp.state_names)) == len(sp.state_names)
               and all(not n.endswith('num_batches_tracked') for n in sp.state_names),
               f'{len(sp.param_names)} parameters, {len(sp.buffer_names)} BN buffers, '
               f'{R.param_count(sp.shapes)} weights')


# ----------------------------------------------------------------------------------------------
# 2. randomness: SplittableRandom, hrda_uniform, drop-path rates
# ----------------------------------------------------------------------------------------------

# java.util.SplittableRandom(seed).nextLong() x3, printed by a JDK 17 run (java SR.java)
JAVA_SPLITMIX = {
    0: [-2152535657050944081, 7960286522194355700, 487617019471545679],
    42: [-4767286540954276203, 2949826092126892291, 5139283748462763858],
    -7046029254386353131: [7960286522194355700, 487617019471545679, -537132696929009172],
}


def check_randomness():
    ok = True
    for seed, vals in JAVA_SPLITMIX.items():
        r = D.SplitMix64(seed)
        got = [D.to_signed64(r.next_long()) for _ in vals]
        ok &= got == vals
    expect('randomness.splitmix64_equals_java', ok, 'SplittableRandom(0/42/-7046...).nextLong() x3')
    # hrda_uniform: scalar Python integer arithmetic vs the vectorised numpy version
    seed = 0x123456789ABCDEF0

    def scalar(seed, i):
        z = (seed + GOLD * (i + 1)) & D.M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & D.M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & D.M64
        z ^= z >> 31
        return np.float32(z >> 40) * np.float32(1 / 16777216)
    GOLD = D.GOLDEN
    u = D.hrda_uniform(seed, 1000)
    expect('randomness.uniform_scalar_vs_vector',
           all(u[i] == scalar(seed, i) for i in range(0, 1000, 37)))
    expect('randomness.uniform_range', float(u.min()) >= 0 and float(u.max()) < 1
           and abs(float(D.hrda_uniform(5, 100000).mean()) - 0.5) < 0.01)
    rates = D.drop_path_rates([2, 1, 1, 1])
    lin = torch.linspace(0, 0.1, 5).numpy()
    expect('randomness.drop_path_rates_equal_torch_linspace',
           all(np.float32(a) == np.float32(b) for a, b in zip(rates, lin)),
           f'{[float(r) for r in rates]}')


# ----------------------------------------------------------------------------------------------
# 3. our ops == the native CPU twins of the Java engine (compiled here from native/cpu)
# ----------------------------------------------------------------------------------------------

def build_native():
    if shutil.which('g++') is None:
        return None
    out = os.path.join(tempfile.mkdtemp(prefix='golden_native_'), 'libtwins.so')
    src = [os.path.join(ROOT, 'native', 'cpu', f) for f in
           ('augment.cpp', 'elementwise.cpp', 'common.cpp')]
    cmd = ['g++', '-O2', '-std=c++17', '-fPIC', '-shared', '-fopenmp',
           '-I' + os.path.join(ROOT, 'native', 'include')] + src + ['-o', out]
    subprocess.run(cmd, check=True)
    return ctypes.CDLL(out)


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def check_native_twins():
    lib = build_native()
    if lib is None:
        print('  skip native twins: no g++')
        return
    c_long, c_int, c_float, c_double, vp = (ctypes.c_long, ctypes.c_int, ctypes.c_float,
                                            ctypes.c_double, ctypes.c_void_p)
    F64 = 1
    lib.hrda_cpu_dropout.argtypes = [c_int, c_long, c_long, c_float, ctypes.c_ulonglong, vp, vp, c_int]
    lib.hrda_cpu_color_jitter.argtypes = [c_int, c_long, c_long, c_long, vp, vp] + [c_float] * 6 + [vp, vp]
    lib.hrda_cpu_gaussian_blur.argtypes = [c_int, c_long, c_long, c_long, c_long, c_long, c_long, vp, vp, vp]
    lib.hrda_cpu_class_mix.argtypes = [c_int, c_long, c_long, c_long, c_long] + [vp] * 10
    lib.hrda_cpu_pseudo_label.argtypes = [c_int, c_long, c_long, c_long, vp, c_double, vp, vp, vp]
    lib.hrda_cpu_pseudo_weight_map.argtypes = [c_int, c_long, c_long, c_long, c_double, c_long, c_long, vp, vp]
    lib.hrda_cpu_downscale_label_ratio.argtypes = [c_long, c_long, c_long, c_long, c_float, c_long, c_int, vp, vp]
    lib.hrda_cpu_block_mask.argtypes = [c_int, c_long, c_long, c_long, c_long, c_long, c_long, vp, vp, vp]

    fname, spec, cfg, student, imnet, batches, draws = D.fixture_inputs('hrda_mic')
    bt, dr = batches[0], draws[0]
    x = np.ascontiguousarray(bt['src_img'])
    b, _, h, w = x.shape

    # dropout: drop path over samples, Dropout2d over channels, with the Java seeds
    for kind, shape, group in (('sample', (4, 256, 16), 256 * 16), ('channel', (2, 16, 8, 8), 64)):
        xi = np.random.default_rng(1).standard_normal(shape)
        seed = 0xF00DCAFE12345678
        d = D.Dropout(0)
        d.rng = type('Fixed', (), {'next_long': lambda self: seed})()
        mine = d(t64(xi), 0.075, kind, 'x').numpy()
        y = np.zeros_like(xi)
        assert lib.hrda_cpu_dropout(F64, xi.size, group, np.float32(0.075), seed, ptr(xi), ptr(y), 0) == 0
        report(f'native.dropout_{kind}', float(np.abs(mine - y).max()), 0.0, 'max |diff|')

    aug = dr['mix_aug']
    fac = np.array(aug['factors'], np.float32)
    order = np.array(aug['order'], np.int32)
    y = np.zeros_like(x)
    assert lib.hrda_cpu_color_jitter(F64, b, h, w, ptr(fac), ptr(order), *[float(v) for v in D.MEAN32],
                                     *[float(v) for v in D.STD32], ptr(x), ptr(y)) == 0
    mine = D.color_jitter(t64(x), [aug['factors'][4 * i:4 * i + 4] for i in range(b)],
                          [aug['order'][4 * i:4 * i + 4] for i in range(b)]).numpy()
    report('native.color_jitter', float(np.abs(mine - y).max()), 1e-12, 'max |diff|')
    # jitter with every permutation and wide factors (clamps, hue wrap)
    worst = 0.0
    rng = np.random.default_rng(3)
    for perm in __import__('itertools').permutations(range(4)):
        f = np.array([0.6 + 0.8 * rng.random(), 0.5 + rng.random(), 0.3 + 1.4 * rng.random(),
                      rng.random() - 0.5], np.float32)
        xx = np.ascontiguousarray(x[:1, :, :16, :16])
        yy = np.zeros_like(xx)
        o = np.array(perm, np.int32)
        lib.hrda_cpu_color_jitter(F64, 1, 16, 16, ptr(f), ptr(o), *[float(v) for v in D.MEAN32],
                                  *[float(v) for v in D.STD32], ptr(xx), ptr(yy))
        m = D.color_jitter(t64(xx), [[float(v) for v in f]], [list(perm)]).numpy()
        worst = max(worst, float(np.abs(m - yy).max()))
    report('native.color_jitter_all_orders_wide_factors', worst, 1e-12, 'max |diff|')

    sig = np.array(aug['sigma'], np.float32)
    k = D.blur_kernel_size(h)
    y = np.zeros_like(x)
    assert lib.hrda_cpu_gaussian_blur(F64, b, 3, h, w, k, k, ptr(sig), ptr(x), ptr(y)) == 0
    report('native.gaussian_blur', rel_err(D.gaussian_blur(t64(x), aug['sigma']).numpy(), y), 1e-13)

    # pseudo labels from random logits, threshold in a gap
    logits = np.random.default_rng(4).standard_normal((b, 5, h, w)) * 2
    lab = np.zeros((b, h, w), np.int32)
    prob = np.zeros((b, h, w))
    conf = np.zeros(1, np.int32)
    thr = 0.55
    assert lib.hrda_cpu_pseudo_label(F64, b, 5, h * w, ptr(logits), thr, ptr(lab), ptr(prob), ptr(conf)) == 0
    p = torch.softmax(t64(logits), 1)
    c, pl = p.max(1)
    expect('native.pseudo_label', (pl.numpy() == lab).all() and int((c >= thr).sum()) == int(conf[0]),
           f'labels equal, confident {int(conf[0])}, prob max |diff| {float(np.abs(c.numpy() - prob).max()):.2g}')

    # weight maps: HRDA valid mask, DAFormer ignored rows
    out = np.zeros((b, h, w))
    valid = np.ascontiguousarray(bt['tgt_valid'])
    lib.hrda_cpu_pseudo_weight_map(F64, b, h, w, 0.375, 0, 0, ptr(valid), ptr(out))
    expect('native.pseudo_weight_map_valid', (out == 0.375 * valid).all())
    lib.hrda_cpu_pseudo_weight_map(F64, b, h, w, 0.375, 4, 30, None, ptr(out))
    ref = np.full((b, h, w), 0.375)
    ref[:, :4] = 0
    ref[:, -30:] = 0
    expect('native.pseudo_weight_map_rows', (out == ref).all())

    # ClassMix with the fixture's draws
    sl = np.ascontiguousarray(bt['src_label'])
    plab = np.ascontiguousarray(lab)
    wmap = np.ascontiguousarray(out)
    chosen = np.zeros((b, 8), np.uint32)
    for i, cl in enumerate(dr['classmix']):
        for v in cl:
            chosen[i, v >> 5] |= np.uint32(1 << (v & 31))
    tgt = np.ascontiguousarray(bt['tgt_img'])
    mi, ml, mw = np.zeros_like(x), np.zeros((b, h, w), np.int32), np.zeros((b, h, w))
    assert lib.hrda_cpu_class_mix(F64, b, 3, h, w, ptr(chosen), ptr(x), ptr(tgt), ptr(sl), ptr(plab),
                                  ptr(wmap), ptr(mi), ptr(ml), ptr(mw), None) == 0
    a, lb, ww = D.class_mix(t64(x), t64(tgt), torch.from_numpy(sl.astype(np.int64)),
                            torch.from_numpy(plab.astype(np.int64)), t64(wmap), dr['classmix'])
    expect('native.class_mix', (a.numpy() == mi).all() and (lb.numpy() == ml).all()
           and (ww.numpy() == mw).all(), f'chosen {dr["classmix"]}')

    # downscale_label_ratio at both FD scales
    for scale in (64, 32, 8):
        o = np.zeros((b, h // scale, w // scale), np.int32)
        assert lib.hrda_cpu_downscale_label_ratio(b, h, w, scale, np.float32(0.75), 5, 255, ptr(sl), ptr(o)) == 0
        expect(f'native.downscale_label_ratio_{scale}',
               (D.downscale_label_ratio(sl, scale, 0.75, 5) == o).all())

    keep = np.array(dr['mic_keep'], np.uint8)
    y = np.zeros_like(x)
    lib.hrda_cpu_block_mask(F64, b, 3, h, w, keep.shape[1], keep.shape[2], ptr(keep), ptr(x), ptr(y))
    expect('native.block_mask', (D.block_mask(t64(x), dr['mic_keep']).numpy() == y).all())


# ----------------------------------------------------------------------------------------------
# 4. loss and mixing pieces against direct numpy formulas
# ----------------------------------------------------------------------------------------------

def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def check_formulas():
    rng = np.random.default_rng(11)
    # weighted CE (mean over all pixels, ignored included) and accuracy on non-ignored pixels
    logits = rng.standard_normal((2, 5, 8, 8))
    label = rng.integers(0, 5, (2, 32, 32))
    label[:, :3] = 255
    weight = rng.random((2, 32, 32))
    loss, acc = D.seg_loss(t64(logits), torch.from_numpy(label), t64(weight))
    up = R.resize_bilinear(logits, size=(32, 32))
    ls = np_log_softmax(up, 1)
    ce = np.zeros(label.shape)
    v = label != 255
    bi, yi, xi = np.nonzero(v)
    ce[v] = -ls[bi, label[v], yi, xi]
    report('formulas.weighted_ce', abs(float(loss) - float((ce * weight).mean())) / float((ce * weight).mean()), 1e-13, 'rel diff')
    pred = up.argmax(1)
    report('formulas.acc_seg', abs(float(acc) - 100.0 * ((pred == label) & v).sum() / v.sum()), 1e-12, '|diff|')
    # FD: masked mean of channel L2 norms, label downscale by direct loops
    fs, fi = rng.standard_normal((2, 64, 4, 4)), rng.standard_normal((2, 64, 4, 4))
    lab = rng.integers(0, 5, (2, 128, 128)).astype(np.int32)
    lab[0, :32, :32] = 1
    lab[1, 32:64, 64:96] = 3
    lab[1, 32:40, 64:96] = 255
    lab[0, 96:, 96:] = 3
    lab[0, 96:104, 96:] = 1   # 75 % of 3: kept (not < 0.75)
    cfg = dict(fd_lambda=0.05, fd_classes=[1, 3], fd_min_ratio=0.75)
    fd, n = D.feat_dist_loss(t64(fs), t64(fi), torch.from_numpy(lab), cfg, 5)
    ds = np.full((2, 4, 4), 255)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                blk = lab[b, 32 * i:32 * i + 32, 32 * j:32 * j + 32].ravel()
                cnt = [(blk == c).sum() for c in range(5)] + [(blk == 255).sum()]
                k = int(np.argmax(cnt))
                if k < 5 and cnt[k] / 1024.0 >= 0.75:
                    ds[b, i, j] = k
    expect('formulas.downscale_label_ratio_loops',
           (D.downscale_label_ratio(lab, 32, 0.75, 5) == ds).all(), f'{(ds != 255).sum()} kept blocks')
    # mmseg's own formulation (one_hot, avg_pool2d in float32, max) as a third opinion
    g = torch.from_numpy(lab.astype(np.int64))[:, None]
    o = g.clone()
    o[o == 255] = 5
    o = F.one_hot(o.squeeze(1), 6).permute(0, 3, 1, 2)
    r, o = torch.max(F.avg_pool2d(o.float(), 32), dim=1)
    o[o == 5] = 255
    o[r < 0.75] = 255
    expect('formulas.downscale_label_ratio_mmseg', (o.numpy() == ds).all())
    m = np.isin(ds, [1, 3])
    dist = np.sqrt(((fs - fi) ** 2).sum(1))
    report('formulas.feature_distance', abs(float(fd) - 0.05 * dist[m].mean()) / (0.05 * dist[m].mean()), 1e-14, 'rel diff')
    expect('formulas.feature_distance_mask', n == int(m.sum()), f'{n} pixels')
    # ClassMix
    src, tgt = rng.standard_normal((2, 3, 16, 16)), rng.standard_normal((2, 3, 16, 16))
    sl = rng.choice([0, 1, 2, 255], (2, 16, 16))
    pl = rng.integers(0, 5, (2, 16, 16))
    w = rng.random((2, 16, 16))
    chosen = [[0, 255], [1, 2]]
    mi, ml, mw = D.class_mix(t64(src), t64(tgt), torch.from_numpy(sl), torch.from_numpy(pl), t64(w), chosen)
    mask = np.stack([np.isin(sl[i], chosen[i]) for i in range(2)]).astype(np.float64)
    ok = np.allclose(mi.numpy(), mask[:, None] * src + (1 - mask[:, None]) * tgt, rtol=0, atol=0) and \
        (ml.numpy() == np.where(mask > 0, sl, pl)).all() and \
        np.array_equal(mw.numpy(), mask + (1 - mask) * w)
    expect('formulas.class_mix_one_mix', ok)
    # nearest upsampling of the MIC grid == torch's nearest
    keep = rng.integers(0, 2, (2, 4, 4))
    x = np.ones((2, 3, 128, 128))
    ref = F.interpolate(t64(keep[:, None]), size=(128, 128), mode='nearest').numpy()
    expect('formulas.block_mask_nearest', np.array_equal(D.block_mask(t64(x), keep.tolist()).numpy(),
                                                          np.broadcast_to(ref, x.shape)))
    # blur kernel size and the Gaussian against a full 2-D convolution with explicit padding
    expect('formulas.blur_kernel_sizes', [D.blur_kernel_size(n) for n in (128, 512, 1024, 30)] == [13, 51, 103, 3])
    img = rng.standard_normal((1, 3, 20, 24))
    k = 5
    g1 = np.array(D.gaussian_1d(k, 0.8))
    pad = np.pad(img, ((0, 0), (0, 0), (2, 2), (2, 2)), mode='reflect')
    full = np.zeros_like(img)
    for i in range(k):
        for j in range(k):
            full += g1[i] * g1[j] * pad[:, :, i:i + 20, j:j + 24]
    xb = t64(img)
    wx = torch.tensor(g1).view(1, 1, 1, k).repeat(3, 1, 1, 1)
    sep = F.conv2d(F.pad(F.conv2d(F.pad(xb, (2, 2, 0, 0), mode='reflect'), wx, groups=3), (0, 0, 2, 2), mode='reflect'),
                   wx.transpose(2, 3), groups=3)
    report('formulas.separable_blur_equals_2d', rel_err(sep.numpy(), full), 1e-14)
    # schedule and groups
    cfg = D.base_config(D.SPECS['tiny_hrda'], True)
    f = [D.lr_factor(i, cfg) for i in range(6)]
    ref = [0.1, 0.9 * 0.325, 0.8 * 0.55, 0.7 * 0.775, 0.6, 0.5]
    report('formulas.lr_factor', max(abs(a - b) for a, b in zip(f, ref)), 1e-15, 'max |diff|')
    spec = D.SPECS['tiny_hrda']
    groups = {}
    for n in spec.param_names:
        groups.setdefault(D.param_group_key(n), []).append(n)
    expect('formulas.param_groups',
           all('head' in n for n in groups[(10.0, 1.0)]) and all('norm' in n and 'head' not in n for n in groups[(1.0, 0.0)])
           and all('head' not in n and 'norm' not in n for n in groups[(1.0, 1.0)]),
           ', '.join(f'lr x{k[0]:g} decay x{k[1]:g}: {len(v)}' for k, v in groups.items()))


def check_optimizer_and_ema():
    """torch.optim.AdamW inside Trainer == the hand formula; EMA a = 0.5 at i = 1."""
    spec = D.SPECS['tiny_daformer']
    rng = np.random.default_rng(5)
    sd = D.random_state(spec.shapes, rng)
    cfg = D.base_config(spec, False)
    tr = D.Trainer(spec, cfg, sd, D.random_state(spec.mit_shapes, rng), torch.float64)
    names = spec.param_names
    p0 = {n: tr.S[n].detach().clone() for n in names}
    m = {n: torch.zeros_like(p0[n]) for n in names}
    v = {n: torch.zeros_like(p0[n]) for n in names}
    p = {n: p0[n].clone() for n in names}
    worst = 0.0
    for step in (1, 2):
        grads = {n: torch.tensor(rng.standard_normal(p0[n].shape)) * 1e-3 for n in names}
        fac = D.lr_factor(step - 1, cfg)
        for n in names:
            tr.S[n].grad = grads[n].clone()
        for g in tr.opt.param_groups:
            g['lr'] = g['base_lr'] * fac
        tr.opt.step()
        for n in names:
            lm, dm = D.param_group_key(n)
            lr, wd = cfg['lr'] * lm * fac, cfg['weight_decay'] * dm
            b1, b2 = cfg['betas']
            p[n] = p[n] * (1 - lr * wd)
            m[n] = b1 * m[n] + (1 - b1) * grads[n]
            v[n] = b2 * v[n] + (1 - b2) * grads[n] ** 2
            upd = lr * (m[n] / (1 - b1 ** step)) / ((v[n] / (1 - b2 ** step)).sqrt() + cfg['eps'])
            p[n] = p[n] - upd
            # relative to the update, not to the parameter
            worst = max(worst, float((tr.S[n].detach() - p[n]).abs().max() / upd.abs().max()))
    report('optimizer.adamw_two_steps_vs_formula', worst, 1e-8, 'max |diff| / max |update|')
    tr.ema(0)
    expect('optimizer.ema_copy_at_0', all(torch.equal(tr.T[n], tr.S[n].detach()) for n in names))
    t0 = {n: tr.T[n].clone() for n in names}
    with torch.no_grad():
        for n in names:
            tr.S[n].add_(0.01)
    tr.ema(1)
    report('optimizer.ema_alpha_half_at_1',
           max(float((tr.T[n] - (0.5 * t0[n] + 0.5 * tr.S[n].detach())).abs().max()) for n in names), 0.0, 'max |diff|')
    expect('optimizer.teacher_buffers_not_copied',
           all(float(tr.T[n].abs().max()) == (0.0 if n.endswith('mean') else 1.0) for n in spec.buffer_names))


# ----------------------------------------------------------------------------------------------
# 5. gradcheck of the pieces
# ----------------------------------------------------------------------------------------------

def check_gradcheck():
    torch.manual_seed(0)
    gc = torch.autograd.gradcheck
    # HRDA fusion (mask, insertion, both x2 upsamplings)
    lr = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    hr = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    att = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    expect('gradcheck.hrda_fuse', gc(lambda a, b, c: D.hrda_fuse(a, b, c, (8, 8), 16), (lr, hr, att)))
    # weighted CE with ignore
    lg = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    lab = torch.randint(0, 3, (1, 8, 8))
    lab[0, 0] = 255
    w = torch.rand(1, 8, 8, dtype=torch.float64)
    expect('gradcheck.seg_loss', gc(lambda x: D.seg_loss(x, lab, w)[0], (lg,)))
    # feature distance
    fs = torch.randn(1, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    fi = torch.randn(1, 4, 2, 2, dtype=torch.float64)
    labs = torch.ones(1, 16, 16, dtype=torch.int64)
    cfg = dict(fd_lambda=0.05, fd_classes=[1], fd_min_ratio=0.75)
    expect('gradcheck.feature_distance', gc(lambda x: D.feat_dist_loss(x, fi, labs, cfg, 3)[0], (fs,)))
    # a MiT block (attention with sr, Mix-FFN, drop path with fixed masks) on a small state
    spec = D.SPECS['tiny_daformer']
    sd = D.random_state(spec.shapes, np.random.default_rng(2))
    S = D.torch_state(sd, spec.shapes, torch.float64, grad=False)
    x = torch.randn(2, 16, D.TINY_MIT["embed_dims"][0], dtype=torch.float64, requires_grad=True)

    def block(t):
        d = D.Dropout(123)
        bp = 'backbone.block1.1'
        a = D.attention(S, bp + '.attn', D.layer_norm(t, S, bp + '.norm1', 1e-6), 4, 4, 1, 2)
        t = t + d(a, 0.3, 'sample', 'a')
        m = D.mix_ffn(S, bp + '.mlp', D.layer_norm(t, S, bp + '.norm2', 1e-6), 4, 4)
        return t + d(m, 0.3, 'sample', 'm')
    S['backbone.block1.1.attn.sr.weight'] = S['backbone.block1.1.attn.sr.weight'][:, :, :2, :2].contiguous()
    expect('gradcheck.mit_block_drop_path', gc(block, (x,)))
    # ConvModule with BN in training mode (batch statistics), Dropout2d
    y = torch.randn(2, 64, 3, 3, dtype=torch.float64, requires_grad=True)

    def cm(t):
        St = dict(S)
        St['decode_head.fuse_layer.aspp_modules.0.bn.running_mean'] = torch.zeros(16, dtype=torch.float64)
        St['decode_head.fuse_layer.aspp_modules.0.bn.running_var'] = torch.ones(16, dtype=torch.float64)
        o = D.conv_module(St, 'decode_head.fuse_layer.aspp_modules.0', t, True)
        return D.Dropout(9)(o, 0.1, 'channel', 'd')
    expect('gradcheck.conv_module_bn_train_dropout2d', gc(cm, (y,)))


# ----------------------------------------------------------------------------------------------
# 6. the committed fixtures: contents, and the iterations recomputed from the file alone
# ----------------------------------------------------------------------------------------------

def read_any(path):
    """safetensors reader for F64/F32/I32 (tools/reference has no U8 and this is enough)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    dts = {'F64': '<f8', 'F32': '<f4', 'I32': '<i4', 'I64': '<i8'}
    out = {k: np.frombuffer(data[h['data_offsets'][0]:h['data_offsets'][1]], dtype=dts[h['dtype']])
           .reshape(h['shape']) for k, h in header.items()}
    order = sorted(header, key=lambda k: header[k]['data_offsets'][0])
    return out, meta, order, header


def check_fixture(key):
    fname, model, seed, mic, _ = D.FIXTURES[key]
    path = os.path.join(D.OUT_DIR, fname)
    if not os.path.exists(path):
        expect(f'fixture.{key}.exists', False, path)
        return
    t, meta, order, header = read_any(path)
    cfg = json.loads(meta['config'])
    spec = D.SPECS[cfg['model']]
    size = os.path.getsize(path)
    print(f'  {fname}: {size} bytes, {len(t)} tensors, metadata keys {sorted(meta)}')
    n_it = cfg.get('stored_iterations', 2)
    # key list
    want = ['init.model.' + n for n in spec.state_names] + ['init.imnet.' + n for n in spec.backbone_param_names]
    for k in range(n_it):
        p = f'iter{k}.'
        want += [p + 'input.src_img', p + 'input.src_label', p + 'input.tgt_img']
        want += [p + 'input.tgt_valid'] if spec.hrda else []
        want += [p + 'out.' + n for n in ('pseudo_label', 'pseudo_weight', 'mixed_img', 'mixed_label', 'mixed_weight')]
        want += [p + 'out.masked_img'] if mic else []
        want += [p + 'grad.' + n for n in spec.param_names]
        want += [p + 'after.model.' + n for n in spec.state_names]
        want += [p + 'after.teacher.' + n for n in spec.state_names if k > 0 or n not in spec.param_names]
    losses = {k: [n for n in t if n.startswith(f'iter{k}.loss.')] for k in range(n_it)}
    all_losses = set().union(*losses.values())
    expect(f'fixture.{key}.keys', set(want) | all_losses == set(t), f'{len(want)} + {len(all_losses)} loss keys')
    expect(f'fixture.{key}.dtypes', all(
        header[n]['dtype'] == ('I32' if 'label' in n else cfg['store_dtype']) for n in t))
    # properties the brief asks for
    for k in range(n_it):
        st = json.loads(meta[f'iter{k}.stats'])
        frac = st['confident'] / st['pixels']
        expect(f'fixture.{key}.iter{k}.pseudo_fraction_in_(0,1)', 0 < frac < 1, f'{frac:.4f}')
        expect(f'fixture.{key}.iter{k}.threshold_clearance', st['min_conf_distance_to_threshold'] >= 1e-4,
               f'{st["min_conf_distance_to_threshold"]:.3g}')
        expect(f'fixture.{key}.iter{k}.fd_mask_not_empty', st['fd_mask_pixels'] > 0, f'{st["fd_mask_pixels"]} pixels')
        expect(f'fixture.{key}.iter{k}.pseudo_weight', abs(float(t[f'iter{k}.out.pseudo_weight'][0]) - frac)
               <= (0 if cfg['store_dtype'] == 'F64' else 1e-7 * frac))
    # recompute both iterations from the file's own tensors and metadata
    student = {n: t['init.model.' + n].astype(np.float64) for n in spec.state_names}
    imnet = {n: t['init.imnet.' + n].astype(np.float64) for n in spec.backbone_param_names}
    batches, draws = [], []
    for k in range(n_it):
        p = f'iter{k}.input.'
        bt = {'src_img': t[p + 'src_img'].astype(np.float64), 'src_label': t[p + 'src_label'].astype(np.int32),
              'tgt_img': t[p + 'tgt_img'].astype(np.float64)}
        if spec.hrda:
            bt['tgt_valid'] = t[p + 'tgt_valid'].astype(np.float64)
        batches.append(bt)
        d = json.loads(meta[f'iter{k}.draws'])
        d.pop('lr_factor')
        draws.append(d)
    run_cfg = dict(cfg)
    recs = D.run_fixture(spec, run_cfg, student, imnet, batches, draws)
    worst = {}
    for k, rec in enumerate(recs):
        p = f'iter{k}.'
        pairs = [(p + 'out.' + n, rec['out'][n]) for n in rec['out']]
        pairs += [(p + 'loss.' + n, v) for n, v in rec['loss'].items()]
        pairs += [(p + 'grad.' + n, rec['grad'][n]) for n in spec.param_names]
        pairs += [(p + 'after.model.' + n, rec['after_model'][n]) for n in spec.state_names]
        pairs += [(p + 'after.teacher.' + n, rec['after_teacher'][n]) for n in spec.state_names
                  if k > 0 or n not in spec.param_names]
        for n, v in pairs:
            a = D.as_np(v).reshape(t[n].shape)
            grp = n.split('.')[1] if not n.split('.')[1] in ('after',) else 'after.' + n.split('.')[2]
            if t[n].dtype.kind == 'i':
                e = float((a != t[n]).sum())
            else:
                e = float(np.abs(a - t[n]).max()) / max(float(np.abs(t[n]).max()), 1e-30)
            worst[grp] = max(worst.get(grp, 0.0), e)
        fac = json.loads(meta[f'iter{k}.draws'])['lr_factor']
        expect(f'fixture.{key}.iter{k}.lr_factor', fac == rec['lr_factor'])
    tol = 1e-12 if cfg['store_dtype'] == 'F64' else 1e-7
    for g, e in sorted(worst.items()):
        report(f'fixture.{key}.recomputed_from_file.{g}', e, tol if g not in ('out',) else tol,
               'max over tensors of max |diff| / max |stored|' if g != 'out' else 'max rel (labels: count)')
    # gradients that are zero in exact arithmetic (rounding noise only): listed for the Java test
    for k in range(n_it):
        g = {n: t[f'iter{k}.grad.' + n] for n in spec.param_names}
        top = max(float(np.abs(v).max()) for v in g.values())
        tiny = [n for n, v in g.items() if float(np.abs(v).max()) < 1e-12 * top]
        print(f'    iter{k}: gradients at rounding level (< 1e-12 of the largest): {tiny}')


def check_reproducible():
    tmp = tempfile.mkdtemp(prefix='golden_regen_')
    t0 = time.time()
    subprocess.run([sys.executable, os.path.join(HERE, 'dacs_iteration.py'), '--out-dir', tmp],
                   check=True, stdout=subprocess.DEVNULL)
    for key, (fname, *_rest) in D.FIXTURES.items():
        a = open(os.path.join(tmp, fname), 'rb').read()
        b = open(os.path.join(D.OUT_DIR, fname), 'rb').read()
        expect(f'reproducible.{key}', a == b, f'{len(a)} bytes, regenerated in {time.time() - t0:.0f} s')
    shutil.rmtree(tmp)


def check_ripu_iteration():
    """ripu_iteration.py regenerates its committed fixtures byte for byte; the stored update of each
    parameter is -lr * momentum buffer, the buffer torch.optim.SGD keeps (d at the first step, then
    0.9 buf + d with d = g + wd p)."""
    tmp = tempfile.mkdtemp(prefix='golden_ripu_')
    t0 = time.time()
    subprocess.run([sys.executable, os.path.join(HERE, 'ripu_iteration.py'), '--out-dir', tmp], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(D.ROOT, 'java', 'src', 'test', 'resources', 'golden', 'ripu_iteration')
    for fname in sorted(os.listdir(out)):
        a = open(os.path.join(tmp, fname), 'rb').read()
        b = open(os.path.join(out, fname), 'rb').read()
        expect(f'ripu_iteration.reproducible.{fname}', a == b, f'{len(a)} bytes, regenerated in {time.time() - t0:.0f} s')
        t, meta, _order, _header = read_any(os.path.join(out, fname))
        cfg = json.loads(meta['config'])
        worst, bufs = 0.0, {}
        for k in range(cfg['iterations']):
            f = json.loads(meta[f'iter{k}.draws'])['lr_factor']
            for key in [x for x in t if x.startswith(f'iter{k}.grad.')]:
                n = key[len(f'iter{k}.grad.'):]
                p = t['init.' + n].astype(np.float64) + sum(t[f'iter{j}.update.{n}'].astype(np.float64) for j in range(k))
                d = t[key].astype(np.float64) + cfg['weight_decay'] * p
                bufs[n] = d if k == 0 else cfg['momentum'] * bufs[n] + d
                lr = cfg['lr'] * f * (cfg['head_lr_mult'] if n.startswith('decode_head.') else 1)
                u = t[f'iter{k}.update.{n}'].astype(np.float64)
                worst = max(worst, float(np.abs(-lr * bufs[n] - u).max() / np.abs(u).max()))
        report(f'ripu_iteration.sgd_formula.{fname}', worst, 1e-5)  # stored F32: ~1e-7
    shutil.rmtree(tmp)


CHECKS = [
    ('reference_parity', check_reference_parity),
    ('randomness', check_randomness),
    ('native_twins', check_native_twins),
    ('formulas', check_formulas),
    ('optimizer', check_optimizer_and_ema),
    ('gradcheck', check_gradcheck),
    ('fixture_hrda', lambda: check_fixture('hrda_mic')),
    ('fixture_daformer', lambda: check_fixture('daformer_dacs')),
    ('reproducible', check_reproducible),
    ('ripu_iteration', check_ripu_iteration),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='skip the regeneration check')
    ap.add_argument('-k', default=None, help='run checks whose name contains this')
    a = ap.parse_args()
    D.setup_determinism(1)
    for name, fn in CHECKS:
        if a.k and a.k not in name:
            continue
        if a.quick and name == 'reproducible':
            continue
        t0 = time.time()
        print(f'{name}:')
        fn()
        print(f'  ({time.time() - t0:.1f} s)')
    bad = [n for n, ok in RESULTS if not ok]
    print(f'{len(RESULTS) - len(bad)} / {len(RESULTS)} checks passed')
    if bad:
        print('FAILED: ' + ', '.join(bad))
        sys.exit(1)


if __name__ == '__main__':
    main()
