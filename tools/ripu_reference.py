#!/usr/bin/python3
"""Float64 reference of RIPU's acquisition (BIT-DA/RIPU core/active/floating_region.py,
spatial_purity.py, build.py) and the fixtures of the Java tests (dev.hrda.active).

Written from the official algorithms, in torch float64:
  - RA score (FloatingRegionScore): pixel entropy / log 19, one-hot arg-max pseudo-label, depthwise
    all-ones (2k+1)^2 convolution with zero padding for the class counts, their channel sum for the
    in-image count, impurity = entropy of counts / count (/ log 19), uncertainty = box-summed
    entropy / count, score = impurity * uncertainty;
  - PA score: unnormalised pixel entropy times SpatialPurity over a (2K+1)^2 window;
  - the greedy loops of RegionSelection / PixelSelection: score[active] = -inf, then per pick two
    torch.max calls (over rows, then over the column maxima), -inf on the clamped mask square,
    active on the mask square, selected on the active square (RA) or the pixel (PA), and the label
    mask revealed from the ground truth where selected;
  - the per-round budgets: RA ceil(H*W * ratio/rounds / (2k+1)^2) in torch float32 arithmetic
    (build.py multiplies a collated int64 size tensor by the Python ratio), PA
    ceil(PIXELS / rounds / (1280*640) * (H*W)) in Python floats.

Regenerate (PyTorch 1.13 CPU, the system python):
    /usr/bin/python3 tools/ripu_reference.py
It writes java/src/test/resources/golden/ripu/acquisition.safetensors (probabilities stored as f32,
read back as f64 by both sides; scores f64, picks int32, masks and labels uint8; every round starts
from the previous round's masks, round 0 from zeros or active_before) and budgets.json. Deterministic (fixed
seeds); `--check` recomputes and compares with the committed files instead of writing.
"""
import json
import math
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools' / 'reference'))
import hrda_reference  # noqa: E402  (numpy-only safetensors helpers)
from hrda_reference import write_safetensors, read_safetensors  # noqa: E402

hrda_reference._DT.setdefault('U8', ('<u1', 1))  # masks and labels (0/1, 0..K-1 or 255)

OUT = ROOT / 'java/src/test/resources/golden/ripu'
LOG19 = math.log(19)


# ---------------------------------------------------------------------------- scores
def box_sum(x, r):
    """Depthwise all-ones (2r+1)^2 convolution with zero padding of x [C, H, W] (float64)."""
    c = x.shape[0]
    weight = torch.ones((c, 1, 2 * r + 1, 2 * r + 1), dtype=torch.float64)
    return F.conv2d(x.unsqueeze(0), weight, padding=r, groups=c).squeeze(0)


def impurity(prob, r, norm):
    """Entropy of the window histogram of the arg-max labels: prob [K, H, W] -> [H, W]."""
    k = prob.shape[0]
    label = torch.argmax(prob, dim=0)
    one_hot = F.one_hot(label, num_classes=k).permute(2, 0, 1).double()
    counts = box_sum(one_hot, r)
    total = counts.sum(dim=0, keepdim=True)
    dist = counts / total
    return (-dist * torch.log(dist + 1e-6)).sum(dim=0) / norm, total[0]


def pixel_entropy(prob, norm):
    return (-prob * torch.log(prob + 1e-6)).sum(dim=0) / norm


def ra_scores(prob, k):
    """FloatingRegionScore(size=2k+1): (score, impurity, uncertainty)."""
    ent = pixel_entropy(prob, LOG19)
    pur, count = impurity(prob, k, LOG19)
    unc = box_sum(ent.unsqueeze(0), k)[0] / count
    return pur * unc, pur, unc


def pa_scores(prob, radius):
    """PixelSelection: entropy * SpatialPurity(size=2K+1), both unnormalised."""
    ent = pixel_entropy(prob, 1.0)
    pur, _ = impurity(prob, radius, 1.0)
    return ent * pur, pur, ent


# ---------------------------------------------------------------------------- selection
def greedy(score, active, selected, count, active_r, mask_r):
    """One round of build.py's loop on one map. score [H, W] float64 (consumed), active/selected
    bool [H, W] (updated). Returns picks [(h, w)] and their scores."""
    score[active] = -float('inf')
    picks, values = [], []
    for _ in range(count):
        col_max, rows = torch.max(score, dim=0)
        best, w = torch.max(col_max, dim=0)
        w = w.item()
        h = rows[w].item()
        picks.append((h, w))
        values.append(best.item())
        ms_h, ms_w = max(h - mask_r, 0), max(w - mask_r, 0)
        score[ms_h:h + mask_r + 1, ms_w:w + mask_r + 1] = -float('inf')
        active[ms_h:h + mask_r + 1, ms_w:w + mask_r + 1] = True
        as_h, as_w = max(h - active_r, 0), max(w - active_r, 0)
        selected[as_h:h + active_r + 1, as_w:w + active_r + 1] = True
    return picks, values


def reveal(selected, gt, ignore=255):
    return torch.where(selected, gt, torch.full_like(gt, ignore))


# ---------------------------------------------------------------------------- budgets
def ra_regions(h, w, ratio, rounds, k):
    size = torch.tensor([[h, w]])  # collated 'size' of build.py: int64
    n = size[0][0] * size[0][1]
    return math.ceil(n * (ratio / rounds) / (2 * k + 1) ** 2)


def pa_pixels(h, w, pixels, rounds):
    return math.ceil(pixels / rounds / (1280 * 640) * (h * w))


# ---------------------------------------------------------------------------- fixtures
def random_prob(gen, b, k, h, w, scale):
    logits = torch.randn((b, k, h, w), generator=gen, dtype=torch.float64) * scale
    return torch.softmax(logits, dim=1).float().double()  # f32-representable values


def tie_prob(gen, b, k, h, w):
    """Exact ties: a periodic 3x4 pattern of a few probability vectors (two with tied maxima) and
    a constant one-hot block, so translated windows hold identical values in identical places."""
    vecs = torch.zeros((4, k), dtype=torch.float64)
    vecs[0, :] = 1.0 / k
    vecs[0, 0] = vecs[0, 1] = 2.0 / k      # tied maximum: classes 0 and 1
    vecs[0] /= vecs[0].sum()
    vecs[1, :] = 0.05
    vecs[1, 2] = vecs[1, k - 1] = 0.5      # tied maximum: classes 2 and K-1
    vecs[1] /= vecs[1].sum()
    vecs[2, :] = 0.01
    vecs[2, 3] = 0.9
    vecs[2] /= vecs[2].sum()
    vecs[3, :] = 0.0
    vecs[3, 1] = 1.0                       # one-hot
    pat = torch.randint(0, 3, (3, 4), generator=gen)
    prob = torch.zeros((b, k, h, w), dtype=torch.float64)
    for i in range(b):
        for y in range(h):
            for x in range(w):
                v = 3 if (x < w // 3 and y >= h // 2) else pat[(y + i) % 3, x % 4].item()
                prob[i, :, y, x] = vecs[v]
    return prob.float().double()


CASES = [
    # name, mode, B, K, H, W, radius, rounds, picks per round, prob kind
    dict(name='ra_k1_c19', mode='RA', B=1, K=19, H=37, W=53, radius=1, rounds=1, count=40, kind='random', seed=11),
    dict(name='ra_k2_c5', mode='RA', B=2, K=5, H=19, W=29, radius=2, rounds=3, count=4, kind='random', seed=12),
    dict(name='pa_r3_c19', mode='PA', B=1, K=19, H=19, W=29, radius=3, rounds=2, count=6, kind='random', seed=13),
    dict(name='pa_r3_c5', mode='PA', B=1, K=5, H=29, W=37, radius=3, rounds=2, count=25, kind='random', seed=14),
    dict(name='ra_ties_c5', mode='RA', B=1, K=5, H=19, W=29, radius=1, rounds=3, count=12, kind='ties', seed=15),
    dict(name='pa_ties_c5', mode='PA', B=1, K=5, H=19, W=29, radius=2, rounds=2, count=14, kind='ties', seed=16),
]
# selection alone on integer-valued score maps (many ties), from random initial active masks;
# the last round runs out of candidates (picks of -inf at (0, 0), as the official loop does)
SELECT_CASES = [
    dict(name='sel_ra_ties', H=19, W=29, active_r=1, mask_r=2, rounds=3, count=40, levels=4, seed=21),
    dict(name='sel_pa_ties', H=23, W=17, active_r=0, mask_r=3, rounds=2, count=16, levels=3, seed=22),
]


def build():
    tensors, meta_cases = [], []

    def put(key, arr, tag):
        tensors.append((key, np.array(arr, copy=True), tag))  # .numpy() shares memory with the masks

    for c in CASES:
        gen = torch.Generator().manual_seed(c['seed'])
        B, K, H, W, r = c['B'], c['K'], c['H'], c['W'], c['radius']
        ar, mr = (r, 2 * r) if c['mode'] == 'RA' else (0, r)
        c = dict(c, active_r=ar, mask_r=mr, norm=LOG19 if c['mode'] == 'RA' else 1.0)
        active = torch.zeros((B, H, W), dtype=torch.bool)
        selected = torch.zeros((B, H, W), dtype=torch.bool)
        gt = torch.randint(0, K, (B, H, W), generator=gen, dtype=torch.int32)
        gt[torch.rand((B, H, W), generator=gen) < 0.2] = 255
        put(f"{c['name']}.gt", gt.numpy(), 'U8')
        for rd in range(c['rounds']):
            p = f"{c['name']}.round{rd}."
            prob = random_prob(gen, B, K, H, W, 3.0) if c['kind'] == 'random' else tie_prob(gen, B, K, H, W)
            put(p + 'prob', prob.float().numpy(), 'F32')  # masks before round rd > 0: round rd-1's after
            out = {k: [] for k in ('score', 'impurity', 'uncertainty', 'picks', 'pick_score')}
            for i in range(B):
                fn = ra_scores if c['mode'] == 'RA' else pa_scores
                s, pur, unc = fn(prob[i], r)
                out['score'].append(s.numpy().copy())
                out['impurity'].append(pur.numpy())
                out['uncertainty'].append(unc.numpy())
                picks, vals = greedy(s, active[i], selected[i], c['count'], ar, mr)
                out['picks'].append(np.array(picks, dtype=np.int32).reshape(-1, 2))
                out['pick_score'].append(np.array(vals))
            for k in ('score', 'impurity', 'uncertainty', 'pick_score') if rd == 0 else ('score', 'pick_score'):
                put(p + k, np.stack(out[k]), 'F64')
            put(p + 'picks', np.stack(out['picks']), 'I32')
            put(p + 'active_after', active.numpy(), 'U8')
            put(p + 'selected_after', selected.numpy(), 'U8')
            put(p + 'label_mask', reveal(selected, gt).numpy(), 'U8')
        meta_cases.append(c)

    for c in SELECT_CASES:
        gen = torch.Generator().manual_seed(c['seed'])
        H, W = c['H'], c['W']
        active = torch.rand((H, W), generator=gen) < 0.15
        selected = torch.zeros((H, W), dtype=torch.bool)
        for rd in range(c['rounds']):
            p = f"{c['name']}.round{rd}."
            score = torch.randint(0, c['levels'], (H, W), generator=gen).double()
            put(p + 'score', score.numpy().copy(), 'F64')
            if rd == 0:
                put(p + 'active_before', active.numpy(), 'U8')
            picks, vals = greedy(score, active, selected, c['count'], c['active_r'], c['mask_r'])
            put(p + 'score_after', score.numpy(), 'F64')
            put(p + 'picks', np.array(picks, dtype=np.int32).reshape(-1, 2), 'I32')
            put(p + 'pick_score', np.array(vals), 'F64')
            put(p + 'active_after', active.numpy(), 'U8')
            put(p + 'selected_after', selected.numpy(), 'U8')
        meta_cases.append(dict(c, mode='select'))

    budgets = []
    for (h, w) in [(1024, 2048), (512, 1024), (37, 53), (19, 29), (720, 1280), (1, 1), (1000, 3)]:
        for ratio in (0.022, 0.05, 0.01, 0.3):
            for rounds in (5, 1, 3):
                for k in (1, 2, 9):
                    budgets.append(dict(kind='ratio', h=h, w=w, value=ratio, rounds=rounds, k=k,
                                        n=ra_regions(h, w, ratio, rounds, k)))
        for pixels in (40, 1, 100, 7):
            for rounds in (5, 1, 3):
                budgets.append(dict(kind='pixels', h=h, w=w, value=pixels, rounds=rounds,
                                    n=pa_pixels(h, w, pixels, rounds)))
    return tensors, {'cases': json.dumps(meta_cases)}, budgets


def main():
    tensors, meta, budgets = build()
    st, bj = OUT / 'acquisition.safetensors', OUT / 'budgets.json'
    if '--check' in sys.argv:
        old, _, _ = read_safetensors(st)
        for name, arr, _ in tensors:
            assert np.array_equal(old[name], arr), name
        assert json.loads(bj.read_text()) == budgets
        print('fixtures match')
        return
    OUT.mkdir(parents=True, exist_ok=True)
    write_safetensors(st, tensors, meta)
    bj.write_text(json.dumps(budgets, indent=0) + '\n')
    print(f'wrote {st} ({st.stat().st_size} bytes) and {bj} ({len(budgets)} budgets)')


if __name__ == '__main__':
    main()
