#!/usr/bin/env bash
# Prepares a GPU session, HERE (the machine with Java and Maven): builds the bundle with the tests
# (tools/bundle.sh --tests, CUDA library included: needs nvcc), packs it as .gpu/hrda-bundle.tgz
# (about 61 MiB as files, 45 packed: what a `run` call sends counts against 64 MiB together with
# the working tree), copies the PyTorch peer ../shared/bench/torch_reference.py into the
# git-ignored .gpu/, checks what a `run` call would send, and prints the `run` carry and command.
#   tools/gpu_prepare.sh [--torch PATH] [--archs LIST] [--no-build]
# --archs: CUDA architectures of libhrda_cuda (default 90: the lent H100/H200 are sm_90; "80;86;89;90"
# for all). Afterwards a plain `mvn package` puts the default 4-arch library back in the jar.
# The device tool sends the checkout the session was started in: run this there (not in a helper's
# worktree), or copy .gpu into that checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
torch="../shared/bench/torch_reference.py"; build=1; archs=90
while [[ $# -gt 0 ]]; do
  case "$1" in
    --torch) torch="$2"; shift 2 ;;
    --archs) archs="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "gpu_prepare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bundle=dist/hrda-bundle
if [[ $build == 1 ]]; then
  command -v nvcc >/dev/null || echo "gpu_prepare.sh: WARNING: no nvcc here: the bundle gets the CUDA stub and cannot use a GPU" >&2
  tools/bundle.sh --tests --cuda-archs "$archs" --out "$PWD/$bundle"
fi
[[ -x $bundle/bin/hrda && -d $bundle/tests ]] || { echo "gpu_prepare.sh: no $bundle with tests/ (run without --no-build)" >&2; exit 1; }
if unzip -l $bundle/lib/hrda-java.jar | grep -q 'libhrda_cuda.so' && \
   [[ "$(unzip -p $bundle/lib/hrda-java.jar 'dev/hrda/kernels/linux-x86_64/libhrda_cuda.so' | wc -c)" -lt 1000000 ]]; then
  echo "gpu_prepare.sh: WARNING: libhrda_cuda.so in the bundle is the stub (built without nvcc or with -Dhrda.cuda=OFF)" >&2
fi
rm -rf "$bundle/.javacpp-cache"   # left by a local `bin/hrda` run; not needed there
mkdir -p .gpu
git check-ignore -q .gpu || { echo "gpu_prepare.sh: .gpu is not git-ignored: it would travel twice (fix .gitignore)" >&2; exit 1; }
if [[ -f "$torch" ]]; then rm -f .gpu/torch_reference.py && cp "$torch" .gpu/torch_reference.py && chmod u+w .gpu/torch_reference.py
else echo "gpu_prepare.sh: no $torch: the torch step will skip" >&2; fi
rm -f .gpu/hrda-bundle.tgz
tar -C "$(dirname "$bundle")" -cf - "$(basename "$bundle")" | gzip -6 > .gpu/hrda-bundle.tgz
echo "packed $bundle ($(du -sh "$bundle" | cut -f1)) as .gpu/hrda-bundle.tgz ($(du -sh .gpu/hrda-bundle.tgz | cut -f1))"

# what travels: tracked + untracked-not-ignored files, shared/ if present, and the carried paths
tree_kb=$( (git ls-files -z -co --exclude-standard | xargs -0 du -ck 2>/dev/null || true) | awk 'END {print $1 + 0}')
shared_kb=0; [[ -d shared ]] && shared_kb=$(du -sk shared | cut -f1)
carry_kb=$(du -sk .gpu | cut -f1)
total_kb=$((tree_kb + shared_kb + carry_kb))
awk -v t="$tree_kb" -v s="$shared_kb" -v c="$carry_kb" -v a="$total_kb" 'BEGIN {
  printf "travels: working tree %.1f MiB + shared/ %.1f MiB + carried %.1f MiB = %.1f MiB (limit 64 MiB)\n", t/1024, s/1024, c/1024, a/1024 }'
if (( total_kb > 64 * 1024 )); then echo "gpu_prepare.sh: OVER the 64 MiB limit" >&2; exit 1; fi
if [[ "$(git rev-parse --git-dir)" != "$(git rev-parse --git-common-dir)" ]]; then
  echo "gpu_prepare.sh: NOTE: this is a linked worktree; the device tool sends the session's own checkout," >&2
  echo "  so copy .gpu there (same relative path) before calling run." >&2
fi
cat <<EOF

run tool call (one 10-minute call; the steps share a 560 s budget; the bundle is unpacked to /tmp):
  carry:   [".gpu"]
  command: tools/gpu_run.sh .gpu/hrda-bundle.tgz
  timeout_s: 600
Or in two calls, if the first needs the whole budget:
  command: tools/gpu_run.sh .gpu/hrda-bundle.tgz --only info,tests,iter,ripu
  command: tools/gpu_run.sh .gpu/hrda-bundle.tgz --only bench,model,torch
Results come back from \$OUT: gpu_run.log, junit/TEST-junit-jupiter.xml, iteration.txt, ripu_select.txt, jmh-kernels.json, jmh-model.json, jmh-attention.json, torch_reference.txt.
EOF
