#!/usr/bin/env python3
"""PyTorch CPU peer of our training-step benchmarks (benchmarks/.../StepBench.java).

The same networks in plain PyTorch eager mode, written out here without mmseg or transformers
(Debian's python3-torch is all it needs): MiT-B0/B5 as mmseg's MixVisionTransformer (overlapping
patch embeddings, efficient self-attention with spatial reduction, Mix-FFN with a 3x3 depthwise
conv, GELU, stochastic depth 0.1), the DAFormer head (embeddings to 256, resize to 1/4, concat,
depthwise-separable ASPP 1/6/12/18 without pooling + 3x3 bottleneck, Dropout2d 0.1, 1x1
classifier) and HRDA (context at 0.5 and a detail crop of half the input through the encoder,
the DAFormer head on both, the scale-attention head - DAFormer head with a 1x1 fusion, sigmoid -
on the context, fused = up2(att*mask)*hr_inserted + up2((1-att*mask)*lr), losses
0.9*CE(fused) + 0.1*CE(detail)). Cross entropy on logits resized to the label, ignore 255.
Random weights and inputs: this measures time and memory, not accuracy.

  python3 tools/torch_peer.py daformer_mitb0 256 [--batch 2] [--steps 3] [--threads 2]
  python3 tools/torch_peer.py hrda_mitb0 512          # HRDA on a 512^2 crop (context 256^2, detail 256^2)

Prints one line: model, size, batch, threads, median seconds per forward + backward step (after
one warm-up step), and the process's peak RSS (ru_maxrss). Debian's torch uses the reference
netlib BLAS; give it our OpenBLAS with LD_PRELOAD=.../libopenblas_nolapack.so.0 (its sgemm_
replaces netlib's), and GLIBC_TUNABLES=glibc.malloc.mmap_max=0 to make malloc keep freed blocks.
"""
import argparse, resource, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

MIT = {'b0': ([32, 64, 160, 256], [2, 2, 2, 2]), 'b5': ([64, 128, 320, 512], [3, 6, 40, 3])}
HEADS, SR, PATCH, STRIDE = [1, 2, 5, 8], [8, 4, 2, 1], [7, 3, 3, 3], [4, 2, 2, 2]


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty(x.shape[0], *([1] * (x.dim() - 1))).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Attention(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.h, self.scale = heads, (dim // heads) ** -0.5
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.sr = nn.Conv2d(dim, dim, sr, sr) if sr > 1 else None
        self.norm = nn.LayerNorm(dim) if sr > 1 else None

    def forward(self, x, H, W):
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.h, C // self.h).permute(0, 2, 1, 3)
        if self.sr is not None:
            x = self.norm(self.sr(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2))
        kv = self.kv(x).reshape(B, -1, 2, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        a = (q @ kv[0].transpose(-2, -1) * self.scale).softmax(-1)
        return self.proj((a @ kv[1]).transpose(1, 2).reshape(B, N, C))


class MixFFN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.dw = nn.Conv2d(4 * dim, 4 * dim, 3, padding=1, groups=4 * dim)

    def forward(self, x, H, W):
        x = self.fc1(x)
        B, N, C = x.shape
        x = self.dw(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class Block(nn.Module):
    def __init__(self, dim, heads, sr, dp):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.ffn, self.dp = Attention(dim, heads, sr), MixFFN(dim), DropPath(dp)

    def forward(self, x, H, W):
        x = x + self.dp(self.attn(self.n1(x), H, W))
        return x + self.dp(self.ffn(self.n2(x), H, W))


class MiT(nn.Module):
    def __init__(self, variant):
        super().__init__()
        dims, depths = MIT[variant]
        self.dims = dims
        dps = torch.linspace(0, 0.1, sum(depths)).tolist()
        self.embeds, self.stages, self.norms, k, cin = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), 0, 3
        for i, (d, n) in enumerate(zip(dims, depths)):
            self.embeds.append(nn.ModuleList([nn.Conv2d(cin, d, PATCH[i], STRIDE[i], PATCH[i] // 2), nn.LayerNorm(d)]))
            self.stages.append(nn.ModuleList(Block(d, HEADS[i], SR[i], dps[k + j]) for j in range(n)))
            self.norms.append(nn.LayerNorm(d, eps=1e-6))
            k, cin = k + n, d

    def forward(self, x):
        out = []
        for (conv, ln), blocks, norm in zip(self.embeds, self.stages, self.norms):
            x = conv(x)
            B, C, H, W = x.shape
            x = ln(x.flatten(2).transpose(1, 2))
            for b in blocks:
                x = b(x, H, W)
            x = norm(x).transpose(1, 2).reshape(B, C, H, W)
            out.append(x)
        return out


def cbr(i, o, k=1, d=1, g=1):
    return nn.Sequential(nn.Conv2d(i, o, k, padding=d * (k // 2), dilation=d, groups=g, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))


class DAFormerHead(nn.Module):
    def __init__(self, dims, classes=19, ch=256, aspp=True):
        super().__init__()
        self.embed = nn.ModuleList(nn.Linear(d, ch) for d in dims)
        cat = ch * len(dims)
        if aspp:
            self.branches = nn.ModuleList([cbr(cat, ch)] + [nn.Sequential(cbr(cat, cat, 3, d, cat), cbr(cat, ch)) for d in (6, 12, 18)])
            self.fuse = cbr(ch * 4, ch, 3)
        else:
            self.branches, self.fuse = None, cbr(cat, ch)
        self.drop, self.cls = nn.Dropout2d(0.1), nn.Conv2d(ch, classes, 1)

    def forward(self, feats):
        h, w = feats[0].shape[2:]
        xs = []
        for f, e in zip(feats, self.embed):
            b, c, fh, fw = f.shape
            y = e(f.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(b, -1, fh, fw)
            xs.append(F.interpolate(y, (h, w), mode='bilinear', align_corners=False) if (fh, fw) != (h, w) else y)
        x = torch.cat(xs, 1)
        x = self.fuse(torch.cat([br(x) for br in self.branches], 1)) if self.branches else self.fuse(x)
        return self.cls(self.drop(x))


def ce(logits, label):
    return F.cross_entropy(F.interpolate(logits, label.shape[1:], mode='bilinear', align_corners=False), label, ignore_index=255)


class DAFormer(nn.Module):
    def __init__(self, variant):
        super().__init__()
        self.enc = MiT(variant)
        self.head = DAFormerHead(self.enc.dims)

    def loss(self, img, label):
        return ce(self.head(self.enc(img)), label)


class HRDA(nn.Module):
    def __init__(self, variant):
        super().__init__()
        self.enc = MiT(variant)
        self.head, self.att = DAFormerHead(self.enc.dims), DAFormerHead(self.enc.dims, aspp=False)

    def loss(self, img, label):
        B, _, S, _ = img.shape
        c = S // 2  # detail crop: the top-left S/2 x S/2 (as StepBench's box)
        context = F.interpolate(img, scale_factor=0.5, mode='bilinear', align_corners=False)
        detail = img[:, :, :c, :c]
        lf = self.enc(context)
        lr, hr, att = self.head(lf), self.head(self.enc(detail)), torch.sigmoid(self.att(lf))
        mask = torch.zeros_like(att)
        mask[:, :, :c // 8, :c // 8] = 1  # the detail box at the context's stride-4 resolution
        att = att * mask
        hr_full = lr.new_zeros(B, lr.shape[1], 2 * lr.shape[2], 2 * lr.shape[3])
        hr_full[:, :, :hr.shape[2], :hr.shape[3]] = hr
        up = lambda t: F.interpolate(t, scale_factor=2, mode='bilinear', align_corners=False)
        fused = up(att) * hr_full + up((1 - att) * lr)
        return 0.9 * ce(fused, label) + 0.1 * ce(hr, label[:, :c, :c].contiguous())


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model', choices=['daformer_mitb0', 'daformer_mitb5', 'hrda_mitb0', 'hrda_mitb5'])
    p.add_argument('size', type=int)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    kind, variant = a.model.split('_mit')
    net = (DAFormer if kind == 'daformer' else HRDA)(variant).train()
    img = torch.randn(a.batch, 3, a.size, a.size)
    label = torch.randint(0, 19, (a.batch, a.size, a.size))
    times = []
    for i in range(a.steps + 1):
        t0 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        net.loss(img, label).backward()
        if i > 0:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'torch {a.model} {a.size} batch {a.batch} threads {a.threads}: {statistics.median(times):.3f} s/step '
          f'(steps {" ".join(f"{t:.3f}" for t in times)}), peak RSS {rss:.0f} MiB, torch {torch.__version__}', flush=True)


if __name__ == '__main__':
    sys.exit(main())
