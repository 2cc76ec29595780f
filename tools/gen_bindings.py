#!/usr/bin/env python3
"""Writes the JavaCPP native declarations for every HRDA_OP in native/include/hrda/*.h.

Run after changing an op signature:  python3 tools/gen_bindings.py
It rewrites the generated block between the BEGIN/END markers in CpuKernels.java and
CudaKernels.java. Device pointers become `long` addresses; host tables (pointer lists,
sizes, per-tensor lr/wd) become Java arrays.
"""
import pathlib, re

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADERS = sorted((ROOT / 'native/include/hrda').glob('*.h'))
JAVA = ROOT / 'java/src/main/java/dev/hrda/kernels'
HOST_ARRAYS = {'params', 'grads', 'exp_avg', 'exp_avg_sq', 'ema', 'sizes', 'lr', 'weight_decay', 'momentum_buffer'}


def java_param(decl):
    decl = ' '.join(decl.split())
    m = re.match(r'(.*?)([A-Za-z_][A-Za-z0-9_]*)$', decl)
    ctype, name = m.group(1).strip(), m.group(2)
    if name in HOST_ARRAYS:
        jt = {'void* const*': 'long[]', 'const long*': 'long[]', 'const float*': 'float[]', 'const double*': 'double[]'}[ctype]
        return f'@Cast("{ctype}") {jt} {name}'
    if '*' in ctype:
        return f'@Cast("{ctype}") long {name}'
    if ctype == 'unsigned long long':
        return f'@Cast("unsigned long long") long {name}'
    return f'{ctype} {name}'


def ops():
    for h in HEADERS:
        text = re.sub(r'/\*.*?\*/', '', h.read_text(), flags=re.S)
        for m in re.finditer(r'^HRDA_OP\((\w+),(.*?)\)\s*$', text, flags=re.M | re.S):
            yield h.name, m.group(1), [java_param(p) for p in m.group(2).split(',')]


def block(prefix, extra):
    lines, last = [], None
    for header, name, params in ops():
        if header != last:
            lines.append(f'    // {header}')
            last = header
        args = ', '.join(params + extra)
        lines.append(f'    public static native int {prefix}{name}({args});')
    return '\n'.join(lines)


def rewrite(path, content):
    text = path.read_text()
    new = re.sub(r'(// BEGIN GENERATED[^\n]*\n).*?(\n?\s*// END GENERATED)', lambda m: m.group(1) + content + '\n    // END GENERATED',
                 text, flags=re.S)
    path.write_text(new)


rewrite(JAVA / 'CpuKernels.java', block('hrda_cpu_', []))
rewrite(JAVA / 'CudaKernels.java', block('hrda_cuda_', ['@Cast("void*") long stream']))
