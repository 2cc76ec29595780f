"""Self-checks of the numpy reference and of the committed fixtures.

Run from the repository root:

    python3 tools/reference/test_reference.py

Exits non-zero on the first failing check.
"""

import math
import os
import sys
import tempfile

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hrda_reference as R  # noqa: E402
import make_model_fixtures as M  # noqa: E402

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def close(a, b, tol=1e-12, what=''):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f'{what}: shape {a.shape} != {b.shape}'
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol, f'{what}: max abs err {err} > {tol}'
    return err


# --------------------------------------------------------------- param counts

@check
def param_counts():
    b5 = R.param_count(R.mit_shapes(R.MIT_B5))
    b0 = R.param_count(R.mit_shapes(R.MIT_B0))
    head = R.param_count(R.daformer_head_shapes(R.DAFORMER_HEAD))
    att = R.param_count(R.daformer_head_shapes(
        R.attention_head_cfg(R.DAFORMER_HEAD, 256, True),
        'decode_head.scale_attention.', 'conv'))
    hrda = R.param_count(R.hrda_head_shapes(R.DAFORMER_HEAD))
    print(f'    MiT-B5 {b5:,}  MiT-B0 {b0:,}  DAFormer head {head:,}  '
          f'attention head {att:,}  HRDA head total {hrda:,}')
    assert abs(b5 - 81.4e6) <= 0.1e6, b5
    assert abs(b0 - 3.3e6) <= 0.05e6, b0
    assert abs(head - 3.71e6) <= 0.01e6, head
    assert abs(att - 0.53e6) <= 0.01e6, att
    assert hrda == head + att


# ------------------------------------------------------------------- bilinear

@check
def bilinear_known_values():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    y = R.resize_bilinear(x, size=(4, 4))[0, 0]
    # torch.nn.functional.interpolate(..., (4,4), mode='bilinear',
    #                                 align_corners=False)
    want = np.array([[1.00, 1.25, 1.75, 2.00],
                     [1.50, 1.75, 2.25, 2.50],
                     [2.50, 2.75, 3.25, 3.50],
                     [3.00, 3.25, 3.75, 4.00]])
    close(y, want, 1e-15, 'up 2x2->4x4')
    close(R.resize_bilinear(x, scale_factor=2.0)[0, 0], want, 1e-15,
          'scale_factor 2')
    # x0.5 downscale without antialias = mean of each 2x2 block
    z = np.arange(16.0).reshape(1, 1, 4, 4)
    d = R.resize_bilinear(z, scale_factor=0.5)[0, 0]
    close(d, [[2.5, 4.5], [10.5, 12.5]], 1e-15, 'down x0.5')
    # 1-D 3 -> 5 (scale 0.6): src = max(0, 0.6*(d+0.5)-0.5)
    v = np.array([0.0, 10.0, 20.0]).reshape(1, 1, 1, 3)
    close(R.resize_bilinear(v, size=(1, 5))[0, 0, 0],
          [0.0, 4.0, 10.0, 16.0, 20.0], 1e-12, '3->5')


# ----------------------------------------------------------------------- conv

def naive_conv(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, k, _ = w.shape
    ho = (h + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    og = o // groups
    y = np.zeros((n, o, ho, wo))
    for ni in range(n):
        for oc in range(o):
            g = oc // og
            for yi in range(ho):
                for xi in range(wo):
                    s = 0.0 if b is None else b[oc]
                    for ci in range(cg):
                        for ky in range(k):
                            for kx in range(k):
                                iy = yi * stride - padding + ky * dilation
                                ix = xi * stride - padding + kx * dilation
                                if 0 <= iy < h and 0 <= ix < wd:
                                    s += x[ni, g * cg + ci, iy, ix] * \
                                        w[oc, ci, ky, kx]
                    y[ni, oc, yi, xi] = s
    return y


@check
def conv_vs_loop():
    rng = np.random.default_rng(0)
    cases = [  # (C, O, k, stride, pad, dil, groups, H, W)
        (3, 4, 7, 4, 3, 1, 1, 13, 11),   # patch_embed1-like
        (4, 5, 3, 2, 1, 1, 1, 7, 8),     # patch_embed2-like
        (6, 6, 3, 1, 1, 1, 6, 5, 6),     # depthwise 3x3 (Mix-FFN)
        (4, 4, 3, 1, 2, 2, 4, 6, 5),     # dilated depthwise (ASPP)
        (4, 4, 3, 1, 6, 6, 4, 5, 5),     # dilation > size
        (4, 6, 2, 2, 0, 1, 1, 6, 4),     # sr conv k=s=2
        (6, 4, 3, 1, 1, 1, 2, 4, 5),     # grouped
        (5, 3, 1, 1, 0, 1, 1, 4, 3),     # 1x1
    ]
    for c, o, k, s, p, d, g, h, w in cases:
        x = rng.standard_normal((2, c, h, w))
        wt = rng.standard_normal((o, c // g, k, k))
        b = rng.standard_normal(o)
        close(R.conv2d(x, wt, b, s, p, d, g), naive_conv(x, wt, b, s, p, d, g),
              1e-12, f'conv {c, o, k, s, p, d, g}')


# ---------------------------------------------------------- small primitives

@check
def gelu_layernorm_bn():
    # exact GELU: x * Phi(x)
    close(R.gelu(np.array([1.0, -0.5, 0.0])),
          [0.8413447460685429, -0.15426876936299347, 0.0], 1e-15, 'gelu')
    x = np.array([[1.0, 2.0, 4.0]])
    m, v = 7 / 3, ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 3
    close(R.layer_norm(x, np.array([1.0, 2.0, 3.0]), np.array([0.5, 0, 0]),
                       1e-6),
          [[(1 - m) / math.sqrt(v + 1e-6) + 0.5,
            2 * (2 - m) / math.sqrt(v + 1e-6),
            3 * (4 - m) / math.sqrt(v + 1e-6)]], 1e-14, 'layernorm')
    sd = {'b.weight': np.array([2.0]), 'b.bias': np.array([1.0]),
          'b.running_mean': np.array([0.5]), 'b.running_var': np.array([3.0])}
    close(R.batch_norm_eval(np.full((1, 1, 1, 1), 2.0), sd, 'b'),
          [[[[2 * 1.5 / math.sqrt(3 + 1e-5) + 1]]]], 1e-14, 'bn')


@check
def attention_vs_loop():
    """Efficient self-attention against a per-head / per-query loop written
    from the paper (kv Linear output: first C channels k, next C v; heads
    split channel-contiguously)."""
    rng = np.random.default_rng(1)
    n, c, heads, h, w, sr = 2, 6, 3, 4, 4, 2
    hd = c // heads
    p = 'a'
    sd = {p + '.q.weight': rng.standard_normal((c, c)),
          p + '.q.bias': rng.standard_normal(c),
          p + '.kv.weight': rng.standard_normal((2 * c, c)),
          p + '.kv.bias': rng.standard_normal(2 * c),
          p + '.proj.weight': rng.standard_normal((c, c)),
          p + '.proj.bias': rng.standard_normal(c),
          p + '.sr.weight': rng.standard_normal((c, c, sr, sr)) / 3,
          p + '.sr.bias': rng.standard_normal(c),
          p + '.norm.weight': 1 + 0.1 * rng.standard_normal(c),
          p + '.norm.bias': 0.1 * rng.standard_normal(c)}
    x = rng.standard_normal((n, h * w, c))
    got = R.efficient_attention(sd, p, x, h, w, heads, sr)
    want = np.zeros_like(x)
    for b in range(n):
        # spatial reduction: token (i, j) of the reduced map averages nothing,
        # it is a conv over the sr x sr patch
        red = []
        for i in range(h // sr):
            for j in range(w // sr):
                t = sd[p + '.sr.bias'].copy()
                for di in range(sr):
                    for dj in range(sr):
                        tok = x[b, (i * sr + di) * w + (j * sr + dj)]
                        t += sd[p + '.sr.weight'][:, :, di, dj] @ tok
                red.append(t)
        red = np.array(red)
        mu = red.mean(1, keepdims=True)
        var = red.var(1, keepdims=True)
        red = (red - mu) / np.sqrt(var + 1e-5) * sd[p + '.norm.weight'] + \
            sd[p + '.norm.bias']
        kv = red @ sd[p + '.kv.weight'].T + sd[p + '.kv.bias']
        k, v = kv[:, :c], kv[:, c:]
        q = x[b] @ sd[p + '.q.weight'].T + sd[p + '.q.bias']
        o = np.zeros((h * w, c))
        for hh in range(heads):
            sl = slice(hh * hd, (hh + 1) * hd)
            for t in range(h * w):
                logits = k[:, sl] @ q[t, sl] / math.sqrt(hd)
                e = np.exp(logits - logits.max())
                o[t, sl] = (e / e.sum()) @ v[:, sl]
        want[b] = o @ sd[p + '.proj.weight'].T + sd[p + '.proj.bias']
    close(got, want, 1e-11, 'attention')


# ------------------------------------------------------------------- HRDA

def _tiny_model(seed=3):
    rng = np.random.default_rng(seed)
    att_cfg = R.attention_head_cfg(M.TINY_HEAD, M.TINY_ATT_EMBED, True)
    shapes = R.mit_shapes(M.TINY_MIT) + R.hrda_head_shapes(
        M.TINY_HEAD, 'decode_head.', M.TINY_ATT_EMBED, True)
    return M.init_weights(shapes, rng), att_cfg, rng


@check
def slide_boxes_layout():
    b = R.slide_boxes(128, 128, (64, 64))
    assert len(b) == 9 and b[0] == (0, 64, 0, 64) and b[1] == (0, 64, 32, 96)
    assert b[-1] == (64, 128, 64, 128), b
    # 1024 input, 512 crop -> 3x3 windows at 0/256/512 (spec section 3)
    b = R.slide_boxes(1024, 1024, (512, 512))
    assert [x[0] for x in b[::3]] == [0, 256, 512]
    # non-multiple size: last window is clamped to the border
    b = R.slide_boxes(100, 64, (64, 64))
    assert [x[:2] for x in b] == [(0, 64), (32, 96), (36, 100)], b
    assert R.slide_boxes(64, 64, (64, 64)) == [(0, 64, 0, 64)]


@check
def slide_single_window_equals_plain_fusion():
    """With one detail window covering the whole input, slide inference must
    equal the plain fusion (no mask) of head(detail) and head(context), and
    also the training fusion whose box is the whole image (mask all ones)."""
    sd, att_cfg, rng = _tiny_model()
    x = rng.standard_normal((2, 3, 64, 64))
    slide = R.hrda_slide_inference(sd, x, M.TINY_MIT, M.TINY_HEAD, att_cfg,
                                   (64, 64))
    ctx = R.resize_bilinear(x, scale_factor=0.5)
    lr_f = R.mit_forward(sd, ctx, M.TINY_MIT)
    hr_f = R.mit_forward(sd, x, M.TINY_MIT)
    lr = R.daformer_head_forward(sd, lr_f, M.TINY_HEAD, 'decode_head.head.')
    hr = R.daformer_head_forward(sd, hr_f, M.TINY_HEAD, 'decode_head.head.')
    att = R.sigmoid(R.daformer_head_forward(
        sd, lr_f, att_cfg, 'decode_head.scale_attention.', 'conv'))
    plain, _ = R.hrda_fuse(lr, hr, att, None)
    close(slide, plain, 1e-12, 'slide vs plain')
    tr = R.hrda_train_forward(sd, x, (0, 64, 0, 64), M.TINY_MIT, M.TINY_HEAD,
                              att_cfg)
    close(tr['fused'], plain, 1e-12, 'train(full box) vs plain')
    assert slide.shape == (2, 5, 16, 16)


@check
def slide_average_by_hand():
    """decode_hr averaging on a 3x3 window grid against counts by hand."""
    boxes = R.slide_boxes(128, 128, (64, 64))
    logits = np.stack([np.full((1, 16, 16), float(i)) for i in range(9)])
    avg = R.decode_hr_slide(logits, boxes, 1, 1)
    assert avg.shape == (1, 1, 32, 32)
    # pixel (0,0): only window 0; (8,8): windows 0,1,3,4; (16,16): 4 only
    # in the centre block rows/cols 16..23 -> windows 4,5,7,8
    close(avg[0, 0, 0, 0], 0.0, 0, '(0,0)')
    close(avg[0, 0, 8, 8], (0 + 1 + 3 + 4) / 4, 1e-15, '(8,8)')
    close(avg[0, 0, 8, 0], (0 + 3) / 2, 1e-15, '(8,0)')
    close(avg[0, 0, 20, 20], (4 + 5 + 7 + 8) / 4, 1e-15, '(20,20)')
    close(avg[0, 0, 31, 31], 8.0, 0, '(31,31)')


@check
def fusion_mask_outside_box():
    """Outside the detail box the training fusion equals up2(lr_seg)."""
    rng = np.random.default_rng(5)
    lr = rng.standard_normal((1, 2, 16, 16))
    hr = rng.standard_normal((1, 2, 16, 16))
    att = R.sigmoid(rng.standard_normal((1, 2, 16, 16)))
    box = (32, 96, 24, 88)
    fused, attm = R.hrda_fuse(lr, hr, att, box)
    assert np.all(attm[:, :, :4] == 0) and np.all(attm[:, :, 12:] == 0)
    assert np.all(attm[:, :, :, :3] == 0) and np.all(attm[:, :, :, 11:] == 0)
    up = R.resize_bilinear(lr, scale_factor=2.0)
    # rows 0..6 of the 32x32 output only see LR rows < 4 (att = 0 there)
    close(fused[:, :, :7], up[:, :, :7], 1e-15, 'outside box rows')
    # cols 0..4 only see LR cols < 3; col 5 already mixes in the box
    close(fused[:, :, :, :5], up[:, :, :, :5], 1e-15, 'outside box cols')
    assert np.max(np.abs(fused[:, :, :, 5] - up[:, :, :, 5])) > 1e-3
    # interior pixel (16, 15): LR rows 7/8, cols 7/8 all inside the box
    a = attm[0, :, 7:9, 7:9]
    # row 16: src 7.75 -> rows 7,8 weights .25,.75; col 15: src 7.25
    wy, wx = np.array([0.25, 0.75]), np.array([0.75, 0.25])
    a_up = np.einsum('i,j,cij->c', wy, wx, a)
    lr_up = np.einsum('i,j,cij->c', wy, wx, (1 - a) * lr[0, :, 7:9, 7:9])
    close(fused[0, :, 16, 15], a_up * hr[0, :, 16 - 8, 15 - 6] + lr_up,
          1e-14, 'interior pixel')


# --------------------------------------------------------------- fixtures

def _fixture(name):
    p = os.path.join(M.OUT_DIR, name)
    t, meta, order = R.read_safetensors(p)
    return p, t, meta, order


@check
def fixtures_consistent():
    """Committed fixtures: key order = state-dict builder order, dtypes,
    and outputs recomputed from the stored F32 weights."""
    att_cfg = R.attention_head_cfg(M.TINY_HEAD, M.TINY_ATT_EMBED, True)
    p, t, meta, order = _fixture('tiny_daformer.safetensors')
    shapes = R.mit_shapes(M.TINY_MIT) + R.daformer_head_shapes(M.TINY_HEAD)
    wnames = [n for n, _, _ in shapes]
    assert order[:len(wnames)] == wnames
    assert order[len(wnames):] == ['test.input', 'test.feat0', 'test.feat1',
                                   'test.feat2', 'test.feat3', 'test.logits']
    for n, sh, r in shapes:
        assert tuple(t[n].shape) == tuple(sh), n
        assert t[n].dtype == (np.int64 if r == 'nbt' else np.float32), n
    sd = {k: v.astype(np.float64) if v.dtype != np.int64 else v
          for k, v in t.items()}
    feats = R.mit_forward(sd, sd['test.input'], M.TINY_MIT)
    for i, f in enumerate(feats):
        close(f, sd[f'test.feat{i}'], 2e-6, f'feat{i}')
    close(R.daformer_head_forward(sd, feats, M.TINY_HEAD), sd['test.logits'],
          2e-6, 'logits')
    assert 'config' in meta

    p, t, meta, order = _fixture('tiny_hrda.safetensors')
    shapes = R.mit_shapes(M.TINY_MIT) + R.hrda_head_shapes(
        M.TINY_HEAD, 'decode_head.', M.TINY_ATT_EMBED, True)
    wnames = [n for n, _, _ in shapes]
    assert order[:len(wnames)] == wnames
    assert order[len(wnames):] == ['test.input', 'test.box', 'test.lr_seg',
                                   'test.hr_seg', 'test.att', 'test.fused',
                                   'test.slide_fused']
    sd = {k: v.astype(np.float64) if v.dtype != np.int64 else v
          for k, v in t.items()}
    top, left = (int(v) for v in t['test.box'])
    box = (top, top + 64, left, left + 64)
    tr = R.hrda_train_forward(sd, sd['test.input'], box, M.TINY_MIT,
                              M.TINY_HEAD, att_cfg)
    for k in ('lr_seg', 'hr_seg', 'att', 'fused'):
        close(tr[k], sd['test.' + k], 2e-6, k)
    sl = R.hrda_slide_inference(sd, sd['test.input'], M.TINY_MIT,
                                M.TINY_HEAD, att_cfg, (64, 64))
    close(sl, sd['test.slide_fused'], 2e-6, 'slide_fused')
    for p in ('tiny_daformer.safetensors', 'tiny_hrda.safetensors'):
        print(f'    {p}: {os.path.getsize(os.path.join(M.OUT_DIR, p)):,} '
              f'bytes')


@check
def fixtures_reproducible():
    """Regenerating into a temp folder gives the committed bytes."""
    with tempfile.TemporaryDirectory() as d:
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):
            M.main(d)
        for fn in ('tiny_daformer.safetensors', 'tiny_hrda.safetensors'):
            with open(os.path.join(d, fn), 'rb') as f:
                a = f.read()
            with open(os.path.join(M.OUT_DIR, fn), 'rb') as f:
                b = f.read()
            assert a == b, f'{fn} differs from a fresh regeneration'


def main():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f'ok   {fn.__name__}')
        except AssertionError as e:
            failed += 1
            print(f'FAIL {fn.__name__}: {e}')
    print(f'{len(CHECKS) - failed}/{len(CHECKS)} checks passed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
