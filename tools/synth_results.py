#!/usr/bin/env python3
"""Target mIoU tables for benchmarks/RESULTS.md from hrda train work dirs (their .log.json).

    python3 tools/synth_results.py WORK_ROOT method=DIR_PREFIX ...
    e.g. python3 tools/synth_results.py runs srconly=synth_srconly_daformer_small dacs=synth_dacs_daformer_small

Each DIR_PREFIX names work dirs WORK_ROOT/<prefix>_s<seed>; the last 'val' record of each is
read. Prints one row per method (mean over seeds, then each seed) and a per-class table of the
means, plus the mean over the small classes (pole, traffic light, traffic sign, person, rider).
Standard library only."""
import glob
import json
import math
import os
import sys

CLASSES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
           'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle']
SMALL = ['pole', 'traffic light', 'traffic sign', 'person', 'rider']


def last_val(work_dir):
    logs = sorted(glob.glob(os.path.join(work_dir, '*.log.json')))
    rec = None
    for path in logs:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get('mode') == 'val':
                    rec = r
    return rec


def mean(v):
    v = [x for x in v if not math.isnan(x)]
    return sum(v) / len(v) if v else float('nan')


def main():
    root, specs = sys.argv[1], [a.split('=', 1) for a in sys.argv[2:]]
    runs = {}
    for name, prefix in specs:
        dirs = sorted(glob.glob(os.path.join(root, prefix + '_s*')))
        recs = [(d, last_val(d)) for d in dirs]
        runs[name] = [(os.path.basename(d), r) for d, r in recs if r is not None]
    print('| method | iterations | target mIoU (mean) | per seed | small classes (mean IoU) |')
    print('|---|---|---|---|---|')
    for name, recs in runs.items():
        miou = [100 * r['mIoU'] for _, r in recs]
        small = [mean([100 * r['IoU.' + c] for c in SMALL]) for _, r in recs]
        per = ', '.join(f'{d.rsplit("_", 1)[1]}: {m:.2f}' for (d, _), m in zip(recs, miou))
        iters = ','.join(sorted({str(r['iter']) for _, r in recs}))
        print(f'| {name} | {iters} | **{mean(miou):.2f}** | {per} | {mean(small):.2f} |')
    print()
    print('| class | ' + ' | '.join(runs) + ' |')
    print('|---|' + '---|' * len(runs))
    for c in CLASSES:
        vals = [mean([100 * r['IoU.' + c] for _, r in recs]) for recs in runs.values()]
        mark = ' (small)' if c in SMALL else ''
        print(f'| {c}{mark} | ' + ' | '.join(f'{v:.2f}' for v in vals) + ' |')


if __name__ == '__main__':
    main()
