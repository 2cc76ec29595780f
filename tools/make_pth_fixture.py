#!/usr/bin/env python3
"""Writes the .pth test fixtures of dev.hrda.io in PyTorch's real on-disk formats, without torch.

Regenerate (from the repository root; needs numpy only):

    python3 tools/make_pth_fixture.py java/src/test/resources/io

How the files match torch.save (torch/serialization.py, caffe2/serialize/inline_container.cc, miniz):
- Stand-in objects are registered under the module names `torch`, `torch._utils` and `torch.cuda`,
  so Python's own pickle emits exactly the opcodes torch.save's pickler does: GLOBAL
  'torch._utils _rebuild_tensor_v2', REDUCE with (storage, storage_offset, size, stride,
  requires_grad, OrderedDict()), and BINPERSID for the storage with the persistent id
  ('storage', torch.FloatStorage, key, location, numel) (zip) or
  ('storage', type, key, location, numel, None) (legacy). Protocol 2, as torch's default.
- Zip format (torch >= 1.6): records '<folder>/data.pkl', ['byteorder'], 'data/<key>' in key
  order, 'version' ['.data/serialization_id']; every record stored (method 0) with the
  general-purpose flags 0x0808 (UTF-8 name, data descriptor), zero time/date, an 'FB' extra field
  padding the data to a 64-byte boundary, a 16-byte data descriptor after the data, and
  zip64 end-of-central-directory records (miniz is opened with MZ_ZIP_FLAG_WRITE_ZIP64).
  The folder is the file's stem (torch.save to a path) or 'archive' (to a file object).
- Legacy format (torch < 1.6, or _use_new_zipfile_serialization=False): pickles of the magic
  number 0x1950a86a20f9469cfc6c, protocol version 1001 and sys_info, the object pickle, the
  sorted storage keys, then each storage as an 8-byte little-endian element count and its bytes.

Files written:
- mmseg_state.pth  zip; {'meta', 'state_dict', 'optimizer'} as mmcv's save_checkpoint writes it;
                   the state dict holds an f32 tensor, a transposed view, a view at a storage
                   offset sharing its storage, bf16, f16, f64 and an int64 num_batches_tracked,
                   and carries torch's `_metadata` attribute (pickled with BUILD).
- dacs_state.pth   zip (torch 2.x layout: byteorder, serialization_id, folder 'archive');
                   {'meta', 'state_dict'} with model./ema_model./imnet_model. prefixes.
- mit_tiny.pth     legacy format; SegFormer's ImageNet layout (bare backbone names plus the
                   classifier head.weight/head.bias), one storage typed torch.cuda.FloatStorage.
- evil_os_system.pth  zip whose data.pkl calls os.system (GLOBAL 'os system' + REDUCE).
- evil_eval.pth       zip whose data.pkl calls builtins.eval (protocol 4, STACK_GLOBAL).
- bad_view.pth        zip with a tensor view reaching past the end of its storage.
- big_endian.pth      zip written on a big-endian machine (byteorder 'big'): f32 view, bf16, int64.
- expected.json    for every tensor of the good files: dtype, shape and the values in logical
                   (row-major) order, computed here with numpy's as_strided from the storages.
"""
import collections
import json
import pathlib
import pickle
import struct
import sys
import types
import zlib

import numpy as np

# ---------------------------------------------------------------- torch stand-ins
torch = types.ModuleType('torch')
torch_utils = types.ModuleType('torch._utils')
torch_cuda = types.ModuleType('torch.cuda')
torch._utils = torch_utils
torch.cuda = torch_cuda
sys.modules.update({'torch': torch, 'torch._utils': torch_utils, 'torch.cuda': torch_cuda})

# storage class name -> (numpy dtype of the bytes, dtype name used in expected.json)
STORAGES = {
    'FloatStorage': ('<f4', 'F32'), 'DoubleStorage': ('<f8', 'F64'), 'HalfStorage': ('<f2', 'F16'),
    'BFloat16Storage': ('<u2', 'BF16'), 'LongStorage': ('<i8', 'I64'), 'IntStorage': ('<i4', 'I32'),
    'ByteStorage': ('<u1', 'U8'), 'BoolStorage': ('<u1', 'BOOL'),
}
for _name in STORAGES:
    setattr(torch, _name, type(_name, (), {'__module__': 'torch'}))
torch_cuda.FloatStorage = type('FloatStorage', (), {'__module__': 'torch.cuda'})


def _rebuild_tensor_v2(*args):
    raise RuntimeError('stand-in: never called')


_rebuild_tensor_v2.__module__ = 'torch._utils'
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    """A typed storage: values (numpy, logical dtype) and the storage class to pickle."""

    def __init__(self, kind, values, cls=None, location='cpu', order='<'):
        self.kind = kind
        self.order = order
        self.cls = cls or getattr(torch, kind)
        self.location = location
        np_dtype, self.dtype = STORAGES[kind]
        if kind == 'BFloat16Storage':  # exact bf16 values: the high half of the f32 bits
            f = np.asarray(values, dtype='<f4')
            assert np.all((f.view('<u4') & 0xffff) == 0), 'bf16 fixture values must be exact'
            self.raw = (f.view('<u4') >> 16).astype('<u2')
            self.logical = f
        else:
            self.raw = np.asarray(values, dtype=np_dtype)
            self.logical = self.raw
        self.numel = self.raw.size

    def data(self):
        return self.raw.astype(self.raw.dtype.newbyteorder(self.order)).tobytes()


class Tensor:
    def __init__(self, storage, offset, size, stride=None):
        if stride is None:  # row-major
            stride, acc = [], 1
            for s in reversed(size):
                stride.insert(0, acc)
                acc *= s
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2,
                (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))

    def expected(self):
        item = self.storage.logical.itemsize
        view = np.lib.stride_tricks.as_strided(self.storage.logical[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride])
        values = view.reshape(-1).tolist()
        if self.storage.dtype == 'BOOL':
            values = [bool(v) for v in values]
        return {'dtype': self.storage.dtype, 'shape': list(self.size), 'values': values}


def contiguous(kind, values, shape):
    return Tensor(Storage(kind, np.asarray(values).reshape(-1)), 0, shape)


# ---------------------------------------------------------------- pickling as torch.save does
def pickle_zip_payload(obj):
    """data.pkl and the storages, keyed '0', '1', ... in order of first appearance (torch._save)."""
    storages, ids = {}, {}

    def persistent_id(o):
        if isinstance(o, Storage):
            key = ids.setdefault(id(o), str(len(ids)))
            storages[key] = o
            return ('storage', o.cls, key, o.location, o.numel)
        return None

    buf = __import__('io').BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = persistent_id
    p.dump(obj)
    return buf.getvalue(), storages


def torch_zip(records, folder):
    """A zip archive laid out like PyTorchStreamWriter/miniz writes it."""
    out, central = bytearray(), bytearray()
    for name, data in records:
        full = f'{folder}/{name}'.encode()
        offset = len(out)
        start = offset + 30 + len(full) + 4
        pad = (-start) % 64
        extra = b'FB' + struct.pack('<H', pad) + b'Z' * pad
        crc = zlib.crc32(data) & 0xffffffff
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(full), len(extra))
        out += full + extra
        assert len(out) % 64 == 0
        out += data
        out += struct.pack('<IIII', 0x08074b50, crc, len(data), len(data))
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 0, 0, 0x0808, 0, 0, 0, crc, len(data),
                               len(data), len(full), 0, 0, 0, 0, 0, offset)
        central += full
    cd_offset, n = len(out), len(records)
    out += central
    zip64_offset = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 0x031e, 0x002d, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack('<IIQI', 0x07064b50, 0, zip64_offset, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out)


def save_zip(obj, path, folder=None, torch2=False, byteorder=b'little'):
    data_pkl, storages = pickle_zip_payload(obj)
    records = [('data.pkl', data_pkl)]
    if torch2:
        records.append(('byteorder', byteorder))
    records += [(f'data/{k}', storages[k].data()) for k in sorted(storages)]
    records.append(('version', b'3\n'))
    if torch2:
        records.append(('.data/serialization_id', b'1234567890123456789012345678901234567890'))
    path.write_bytes(torch_zip(records, folder or path.stem))


def save_legacy(obj, path):
    storages, keys = {}, {}

    def persistent_id(o):
        if isinstance(o, Storage):
            key = keys.setdefault(id(o), str(94000000000000 + 1024 * len(keys)))
            storages[key] = o
            return ('storage', o.cls, key, o.location, o.numel, None)
        return None

    buf = __import__('io').BytesIO()
    sys_info = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=8))
    pickle.dump(0x1950a86a20f9469cfc6c, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump(sys_info, buf, protocol=2)
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = persistent_id
    p.dump(obj)
    ordered = sorted(storages)
    pickle.dump(ordered, buf, protocol=2)
    for k in ordered:
        buf.write(struct.pack('<q', storages[k].numel))
        buf.write(storages[k].data())
    path.write_bytes(buf.getvalue())


def state_dict(items, module_paths):
    sd = collections.OrderedDict(items)
    sd._metadata = collections.OrderedDict((m, {'version': 1}) for m in module_paths)
    return sd


# ---------------------------------------------------------------- fixtures
def mmseg_fixture():
    shared = Storage('FloatStorage', np.arange(24, dtype=np.float32) * 0.5 - 3)  # 24 elements
    q_weight = Tensor(shared, 0, (4, 4), (1, 4))            # transposed view of the first 16
    q_bias = Tensor(shared, 18, (4,))                       # offset view into the same storage
    items = [
        ('backbone.patch_embed1.proj.weight', contiguous('FloatStorage', np.linspace(-1, 1, 4 * 3 * 2 * 2), (4, 3, 2, 2))),
        ('backbone.patch_embed1.proj.bias', contiguous('FloatStorage', [0.1, 0.2, 0.3, 0.4], (4,))),
        ('backbone.block1.0.attn.q.weight', q_weight),
        ('backbone.block1.0.attn.q.bias', q_bias),
        ('backbone.norm1.weight', contiguous('BFloat16Storage', [1.0, 0.5, -2.0, 3.25], (4,))),
        ('backbone.norm1.bias', contiguous('HalfStorage', [0.125, -0.25, 1.5, 65504.0], (4,))),
        ('decode_head.conv_seg.weight', contiguous('DoubleStorage', np.arange(8) / 3.0, (2, 4, 1, 1))),
        ('decode_head.conv_seg.bias', contiguous('FloatStorage', [0.0, -1.0], (2,))),
        ('decode_head.bn.running_mean', contiguous('FloatStorage', [0.5, 1.5, 2.5, 3.5], (4,))),
        ('decode_head.bn.num_batches_tracked', contiguous('LongStorage', [1234], ())),
    ]
    sd = state_dict(items, ['', 'backbone', 'backbone.patch_embed1', 'decode_head', 'decode_head.bn'])
    exp_avg = contiguous('FloatStorage', [0.01, 0.02, 0.03, 0.04], (4,))
    obj = {
        'meta': {'mmseg_version': '0.16.0+c370b5b', 'iter': 4000, 'epoch': 1, 'lr': 6e-05,
                 'CLASSES': ('road', 'sidewalk'), 'PALETTE': [[128, 64, 128], [244, 35, 232]],
                 'big': 2 ** 40, 'neg': -7, 'flag': True, 'nothing': None, 'text': 'Zürich ∆'},
        'state_dict': sd,
        'optimizer': {'state': {0: {'step': 3, 'exp_avg': exp_avg}},
                      'param_groups': [{'lr': 6e-05, 'betas': (0.9, 0.999), 'params': [0]}]},
    }
    return obj, {name: t.expected() for name, t in items} | {'optimizer.state.0.exp_avg': exp_avg.expected()}


def dacs_fixture():
    items, expected = [], {}
    for i, prefix in enumerate(['model', 'ema_model', 'imnet_model']):
        for name, shape in [('backbone.patch_embed1.proj.weight', (4, 3, 2, 2)), ('backbone.norm1.weight', (4,)),
                            ('decode_head.conv_seg.bias', (2,))]:
            n = int(np.prod(shape))
            t = contiguous('FloatStorage', np.arange(n) * 0.25 + 100 * i, shape)
            items.append((f'{prefix}.{name}', t))
            expected[f'{prefix}.{name}'] = t.expected()
    obj = {'meta': {'iter': 40000, 'exp_name': 'gtaHR2csHR_hrda'}, 'state_dict': collections.OrderedDict(items)}
    return obj, expected


def mit_fixture():
    items = [
        ('patch_embed1.proj.weight', contiguous('FloatStorage', np.arange(48) * -0.125, (4, 3, 2, 2))),
        ('patch_embed1.proj.bias', Tensor(Storage('FloatStorage', [1.0, 2.0, 3.0, 4.0], cls=torch_cuda.FloatStorage,
                                                  location='cuda:0'), 0, (4,))),
        ('block1.0.attn.q.weight', contiguous('FloatStorage', np.arange(16) * 0.5, (4, 4))),
        ('norm1.weight', contiguous('FloatStorage', [1.0, 1.0, 1.0, 1.0], (4,))),
        ('head.weight', contiguous('FloatStorage', np.arange(12), (3, 4))),
        ('head.bias', contiguous('FloatStorage', [0.0, 0.0, 0.0], (3,))),
    ]
    return state_dict(items, ['', 'patch_embed1', 'head']), {n: t.expected() for n, t in items}


def evil_os_system():
    cmd = 'touch /tmp/hrda_pwned_os_system'.encode()
    payload = (b'\x80\x02' + b'}q\x00' + b'X' + struct.pack('<I', 10) + b'state_dict'
               + b'cos\nsystem\n' + b'X' + struct.pack('<I', len(cmd)) + cmd + b'\x85' + b'R' + b's' + b'.')
    return payload


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch /tmp/hrda_pwned_eval')",))


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'java/src/test/resources/io')
    out.mkdir(parents=True, exist_ok=True)
    expected = {}
    obj, exp = mmseg_fixture()
    save_zip(obj, out / 'mmseg_state.pth')
    expected['mmseg_state.pth'] = exp
    obj, exp = dacs_fixture()
    save_zip(obj, out / 'dacs_state.pth', folder='archive', torch2=True)
    expected['dacs_state.pth'] = exp
    obj, exp = mit_fixture()
    save_legacy(obj, out / 'mit_tiny.pth')
    expected['mit_tiny.pth'] = exp
    (out / 'evil_os_system.pth').write_bytes(torch_zip([('data.pkl', evil_os_system()), ('version', b'3\n')], 'archive'))
    big = {'w': Tensor(Storage('FloatStorage', np.arange(6) * 0.5 - 1, order='>'), 0, (3, 2), (1, 3)),
           'h': contiguous('BFloat16Storage', [1.0, -0.5], (2,)), 'n': contiguous('LongStorage', [-2, 300], (2,))}
    for t in ('h', 'n'):
        big[t].storage.order = '>'
    save_zip(big, out / 'big_endian.pth', folder='archive', torch2=True, byteorder=b'big')
    expected['big_endian.pth'] = {name: t.expected() for name, t in big.items()}
    bad = Storage('FloatStorage', [1.0, 2.0, 3.0, 4.0])
    save_zip({'state_dict': {'backbone.norm1.weight': Tensor(bad, 2, (8,))}}, out / 'bad_view.pth', folder='archive')
    evil = pickle.dumps({'state_dict': _Eval()}, protocol=4)
    assert b'builtins' in evil and b'\x93' in evil  # STACK_GLOBAL
    (out / 'evil_eval.pth').write_bytes(torch_zip([('data.pkl', evil), ('version', b'3\n')], 'archive'))
    (out / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')
    for f in sorted(out.iterdir()):
        print(f'{f.stat().st_size:8d}  {f}')


if __name__ == '__main__':
    main()
