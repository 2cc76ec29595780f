#!/usr/bin/env bash
# Builds a self-contained bundle: a jlink'd Java runtime, the jars and our native libraries.
# Runs `bin/hrda info` on a Linux x86-64 machine with no Java installed.
#   tools/bundle.sh [--with-opencv] [--out DIR]     (default DIR: dist/hrda-bundle)
# CUDA/cuDNN are NOT bundled: libhrda_cuda loads libcudart.so.13 and cuBLAS/cuDNN from the machine.
# bin/hrda of the bundle adds to LD_LIBRARY_PATH, in this order: $CUDA_HOME/lib64,
# /usr/local/cuda/lib64, /usr/local/cuda-13*/lib64, and the lib dirs of pip's nvidia wheels
# (site-packages/nvidia/*/lib) found with python3, so a PyTorch install's cuBLAS/cuDNN serve.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/dist/hrda-bundle"; opencv=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --with-opencv) opencv=1; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
(cd "$here" && mvn -B -q -DskipTests ${MVN_ARGS:-} package)   # MVN_ARGS=-Dhrda.cuda=OFF for a CPU-only bundle
rm -rf "$out"; mkdir -p "$out/lib" "$out/bin"
cp "$here/java/target/hrda-java.jar" "$here/benchmarks/target/benchmarks.jar" "$out/lib/"
for j in "$here"/benchmarks/target/lib/*.jar; do
  name="$(basename "$j")"
  case "$name" in
    hrda-java*) continue ;;
    opencv*) [[ $opencv == 1 ]] || continue ;;
    openblas-*-linux-x86_64.jar)
      # keep only the no-LAPACK OpenBLAS we use (the full one doubles the size)
      tmp="$(mktemp -d)"; (cd "$tmp" && unzip -q "$j" && rm -f org/bytedeco/openblas/linux-x86_64/libopenblas.so* \
        org/bytedeco/openblas/linux-x86_64/libjniopenblas.so org/bytedeco/openblas/linux-x86_64/libjniopenblas_full.so \
        && zip -q -r "$out/lib/$name" .); rm -rf "$tmp"; continue ;;
  esac
  cp "$j" "$out/lib/"
done
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported,java.desktop \
      --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/runtime"
cat > "$out/bin/hrda" <<'SH'
#!/usr/bin/env bash
b="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extra=""
for d in "${CUDA_HOME:-/nonexistent}/lib64" /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64; do
  [[ -d "$d" ]] && extra="$extra:$d"
done
if command -v python3 >/dev/null; then
  for d in $(python3 -c 'import site, glob; print(" ".join(d for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")))' 2>/dev/null); do
    extra="$extra:$d"
  done
fi
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}$extra"
exec "$b/runtime/bin/java" ${HRDA_JAVA_OPTS:--Xmx8g} -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 \
  -Dorg.bytedeco.javacpp.cachedir="${HRDA_CACHE:-$b/.javacpp-cache}" \
  -cp "$b/lib/*" "${HRDA_MAIN:-dev.hrda.cli.Main}" "$@"
SH
chmod +x "$out/bin/hrda"
du -sh "$out" | awk '{print "bundle size: " $1}'
du -sh "$out/runtime" "$out/lib" | sed 's/^/  /'
