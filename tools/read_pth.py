#!/usr/bin/env python3
"""Reads a torch.save zip checkpoint WITHOUT torch, as torch.load(weights_only=True) would, and
prints it as JSON: {"meta": {...}, "state_dict": {name: {"dtype", "shape", "values"}}}.

    python3 tools/read_pth.py FILE.pth

An independent reader (Python's own zipfile and pickle, standard library only) for the test of
dev.hrda.io.TorchWriter. Like torch's weights-only unpickler it accepts only the globals
collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.<X>Storage, and it checks
what torch's reader relies on: CRC-32 of every record, a folder holding data.pkl, version and
data/<key>, a little-endian byteorder record if any, and data records starting on 64-byte
boundaries.
Exit status 1 with a message on the first problem.
"""
import collections
import json
import pickle
import struct
import sys
import zipfile

# storage class -> (dtype name as dev.hrda.io.StoredDType, struct code, bytes)
STORAGES = {
    'DoubleStorage': ('F64', 'd', 8), 'FloatStorage': ('F32', 'f', 4), 'HalfStorage': ('F16', 'e', 2),
    'BFloat16Storage': ('BF16', 'H', 2), 'LongStorage': ('I64', 'q', 8), 'IntStorage': ('I32', 'i', 4),
    'ShortStorage': ('I16', 'h', 2), 'CharStorage': ('I8', 'b', 1), 'ByteStorage': ('U8', 'B', 1),
    'BoolStorage': ('BOOL', '?', 1),
}


class Fail(Exception):
    pass


class StorageClass:
    def __init__(self, name):
        self.name = name


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
    dtype, values = storage
    if not isinstance(hooks, collections.OrderedDict):
        raise Fail('backward hooks are not an OrderedDict')
    out = []

    def walk(dim, pos):
        if dim == len(size):
            out.append(values[pos])
            return
        for i in range(size[dim]):
            walk(dim + 1, pos + i * stride[dim])

    walk(0, offset)
    return {'dtype': dtype, 'shape': list(size), 'values': out}


def read(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            raise Fail(f'CRC-32 mismatch in record {bad}')
        names = z.namelist()
        folder = names[0].split('/')[0]
        if names[0] != folder + '/data.pkl':
            raise Fail(f'first record is {names[0]}, not {folder}/data.pkl')
        if folder + '/version' not in names:
            raise Fail(f'no {folder}/version record')
        # byteorder is optional (torch < 2.1 did not write it: little-endian)
        if folder + '/byteorder' in names and z.read(folder + '/byteorder') != b'little':
            raise Fail('byteorder is not little')
        if z.read(folder + '/version').strip() not in (b'3', b'2', b'1'):
            raise Fail('unknown version record')
        with open(path, 'rb') as f:
            raw = f.read()
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise Fail(f'{info.filename} is compressed')
            name_len, extra_len = struct.unpack_from('<HH', raw, info.header_offset + 26)
            start = info.header_offset + 30 + name_len + extra_len
            if info.filename.startswith(folder + '/data/') and start % 64 != 0:
                raise Fail(f'{info.filename} data starts at {start}, not on a 64-byte boundary')

        def persistent_load(pid):
            if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
                raise Fail(f'unexpected persistent id {pid!r}')
            _, cls, key, location, numel = pid
            if not isinstance(cls, StorageClass) or location != 'cpu':
                raise Fail(f'bad storage id {pid!r}')
            dtype, code, size = STORAGES[cls.name]
            data = z.read(f'{folder}/data/{key}')
            if len(data) != numel * size:
                raise Fail(f'storage {key}: {len(data)} bytes for {numel} {dtype} elements')
            values = list(struct.unpack(f'<{numel}{code}', data))
            if dtype == 'BF16':
                values = [struct.unpack('<f', struct.pack('<I', v << 16))[0] for v in values]
            if dtype == 'BOOL':
                values = [1 if v else 0 for v in values]
            return dtype, values

        class WeightsOnly(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ('collections', 'OrderedDict'):
                    return collections.OrderedDict
                if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
                    return rebuild_tensor_v2
                if module == 'torch' and name in STORAGES:
                    return StorageClass(name)
                raise Fail(f'global {module}.{name} is not allowed by torch.load(weights_only=True)')

        u = WeightsOnly(z.open(folder + '/data.pkl'))
        u.persistent_load = persistent_load
        obj = u.load()
    if not isinstance(obj, dict) or not isinstance(obj.get('state_dict'), collections.OrderedDict):
        raise Fail('top level is not {"meta": ..., "state_dict": OrderedDict}')
    return {'meta': obj.get('meta', {}), 'state_dict': obj['state_dict']}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        result = read(sys.argv[1])
    except (Fail, zipfile.BadZipFile, pickle.UnpicklingError, KeyError, struct.error) as e:
        print(f'read_pth.py: {sys.argv[1]}: {e}', file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
