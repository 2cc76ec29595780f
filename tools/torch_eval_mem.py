#!/usr/bin/env python3
"""PyTorch CPU peer of benchmarks/.../EvalMemoryBench.java: the peak memory of one test image.

The original's test-time inference in PyTorch eager mode under torch.no_grad(), with the
networks of tools/torch_peer.py (MiT-B0/B5, DAFormer head, HRDA's scale-attention head) in eval
mode with random weights, on a random image:
- DAFormer (daformer_mitb*): mmseg whole-image encode_decode (logits resized to the input);
- HRDA (hrda_mitb*): mmseg's slide_inference with batched_slide (windows 1024, stride 512, all
  windows through encode_decode in one batch, preds / count_mat), HRDA's encode_decode inside:
  context x0.5, extract_slide_feat (overlapping 512 detail windows, stride 256, one batch),
  decode_hr (head on all crops at once, summed with F.pad into preds, / count_mat), the scale
  attention, fused = up2(att) * hr + up2((1 - att) * lr), resized to the window;
then mmseg's simple_test: softmax over the classes, argmax, to numpy.
--window-batch N (default 0 = all windows at once, the original) runs the slide and detail
windows N at a time instead, as our --window-batch does.

  python3 tools/torch_eval_mem.py hrda_mitb0 2048x1024 [--images 3] [--threads 2] [--window-batch 0]
  python3 tools/torch_eval_mem.py daformer_mitb5 1024x512

Prints per image the seconds and the peak RSS (VmHWM, reset before each image through
/proc/self/clear_refs), then one summary line. Memory does not depend on the weights' values.
"""
import argparse, os, sys, time
import torch, torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer as tp  # noqa: E402


def vm(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return -1


def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def slide_boxes(h, w, crop, stride):
    """mmseg's slide windows (the last row/column shifted back inside the image)."""
    ch, cw = min(crop, h), min(crop, w)
    rows = max(h - ch + stride - 1, 0) // stride + 1
    cols = max(w - cw + stride - 1, 0) // stride + 1
    out = []
    for r in range(rows):
        for c in range(cols):
            y2, x2 = min(r * stride + ch, h), min(c * stride + cw, w)
            out.append((max(y2 - ch, 0), max(x2 - cw, 0), ch, cw))
    return out


def chunks(seq, n):
    n = len(seq) if n <= 0 else n
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def averaged(img, boxes, stride, net, window_batch, classes):
    """Windows of img through net (output stride `stride`), summed with F.pad as the original does, / count."""
    bs, _, h, w = img.shape
    preds = img.new_zeros(bs, classes, h // stride, w // stride)
    count = img.new_zeros(bs, 1, h // stride, w // stride)
    for part in chunks(boxes, window_batch):
        logits = net(torch.cat([img[:, :, y:y + ch, x:x + cw] for y, x, ch, cw in part]))
        for i, (y, x, ch, cw) in enumerate(part):
            y, x, ch, cw = y // stride, x // stride, ch // stride, cw // stride
            preds += F.pad(logits[i * bs:(i + 1) * bs], (x, preds.shape[3] - x - cw, y, preds.shape[2] - y - ch))
            count[:, :, y:y + ch, x:x + cw] += 1
        del logits
    return preds / count


class HrdaTest(tp.HRDA):
    window_batch = 0

    def encode_decode(self, img):
        up = lambda t: F.interpolate(t, scale_factor=2, mode='bilinear', align_corners=False)
        context = F.interpolate(img, scale_factor=0.5, mode='bilinear', align_corners=False)
        lf = self.enc(context)
        lr, att = self.head(lf), torch.sigmoid(self.att(lf))
        del lf
        _, _, h, w = img.shape
        hr = averaged(img, slide_boxes(h, w, 512, 256), 4, lambda x: self.head(self.enc(x)), self.window_batch, lr.shape[1])
        fused = up(att) * hr + up((1 - att) * lr)
        return F.interpolate(fused, (h, w), mode='bilinear', align_corners=False)

    def inference(self, img):
        _, _, h, w = img.shape
        if h <= 1024 and w <= 1024:
            return self.encode_decode(img)
        return averaged(img, slide_boxes(h, w, 1024, 512), 1, self.encode_decode, self.window_batch, 19)


class DaformerTest(tp.DAFormer):
    def inference(self, img):
        return F.interpolate(self.head(self.enc(img)), img.shape[2:], mode='bilinear', align_corners=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model', choices=['daformer_mitb0', 'daformer_mitb5', 'hrda_mitb0', 'hrda_mitb5'])
    p.add_argument('size', help='WxH, e.g. 2048x1024')
    p.add_argument('--images', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--window-batch', type=int, default=0)
    a = p.parse_args()
    w, h = (int(v) for v in a.size.lower().split('x'))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    kind, variant = a.model.split('_mit')
    net = (DaformerTest if kind == 'daformer' else HrdaTest)(variant).eval()
    net.window_batch = a.window_batch
    weights = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    img = torch.randn(1, 3, h, w)
    print(f'torch {a.model} {w}x{h}, window batch {a.window_batch or "all"}, threads {a.threads}: weights {weights / 2**30:.2f} GiB, '
          f'process RSS {vm("VmRSS:") / 2**30:.2f} GiB before the first image, torch {torch.__version__}', flush=True)
    peaks, times = [], []
    for i in range(a.images):
        reset = reset_peak()
        t0 = time.perf_counter()
        with torch.no_grad():
            seg = net.inference(img)
            pred = F.softmax(seg, dim=1).argmax(dim=1).cpu().numpy()  # mmseg simple_test
        del seg, pred
        s = time.perf_counter() - t0
        peak = vm('VmHWM:')
        peaks.append(peak)
        times.append(s)
        print(f'image {i + 1}: {s:.2f} s, peak RSS {peak / 2**30:.2f} GiB{"" if reset else " (process)"}', flush=True)
    rest = times[1:]
    print(f'torch {a.model} {w}x{h} window batch {a.window_batch or "all"}: peak RSS {max(peaks) / 2**30:.2f} GiB, '
          f'{(sum(rest) / len(rest)) if rest else float("nan"):.2f} s/image after the first', flush=True)


if __name__ == '__main__':
    sys.exit(main())
