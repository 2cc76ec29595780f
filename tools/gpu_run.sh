#!/usr/bin/env bash
# GPU run kit: run on the device machine, from the repository root, with the bundle carried
# (tools/gpu_prepare.sh builds it here and prints the `run` call). No Java or Maven needed there.
#   tools/gpu_run.sh [BUNDLE] [--only STEPS] [--selftest]
#     BUNDLE   the bundle built by `tools/bundle.sh --tests`: a folder, or a .tgz of it (unpacked
#              to /tmp/hrda-bundle); default .gpu/hrda-bundle.tgz if present, else dist/hrda-bundle
#     --only   comma-separated subset of: info,export,tests,iter,ripu,bench,model,torch (default all, in that order)
#     --selftest  runs the gpu-tagged tests with -Dhrda.parity.selftest=true (a CpuBackend stands
#              in for CUDA): checks the kit itself on a machine without a GPU
# Steps:
#   info   nvidia-smi, where cuBLAS/cuDNN are found, `hrda info --device cuda`
#   export `hrda export` writes tiny_hrda as a .pth; torch.load(weights_only=True) must read it (needs
#          python3 with torch, no GPU): $OUT/export_check.txt
#   tests  the JUnit tests tagged "gpu" (CudaParityTest, ...) with the bundled java and the bundle's
#          CUDA library: $OUT/junit/TEST-junit-jupiter.xml; without a usable GPU they skip with the reason
#   iter   one whole DACS iteration, every component on (IterationBench daformer_mitb0 and
#          hrda_mitb0, batch 2, f32, one warm-up + one measured, the time split and the tensor peak
#          per phase) on CUDA: $OUT/iteration.txt
#   ripu   one RIPU acquisition round on CUDA at Cityscapes resolution: DeepLab-v2 R101 (random
#          weights) at RIPU's 1280x640 input over 4 synthetic 2048x1024 frames, RA 2.2 % in five
#          rounds; seconds per image for the prediction and the selection: $OUT/ripu_select.txt
#   bench  JMH KernelBench -p device=cuda -p dtype=f32,bf16, short iterations: $OUT/jmh-kernels.json
#   model  JMH ModelBench (daformer_mitb5, hrda_mitb5; with_cp off/on) and AttentionBench (fused vs
#          unfused fwd+bwd, MiT-B5 stages at 512^2, f32/bf16) on CUDA: $OUT/jmh-model.json, jmh-attention.json
#   torch  .gpu/torch_reference.py (a git-ignored copy of ../shared/bench/torch_reference.py), if
#          present: attention, mit f32/bf16, hrda bf16: $OUT/torch_reference.txt
# Everything printed also goes to $OUT/gpu_run.log. OUT defaults to /tmp/hrda-gpu-out when unset.
# Time: the steps share GPU_RUN_BUDGET seconds (default 560, inside a 600 s `run` call); each is
# cut off (timeout) when the budget runs out, and the steps after it are skipped with that reason.
# Exit status: 0 when every step that ran passed (skips are fine), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bundle=""; only="info,export,tests,iter,ripu,bench,model,torch"; selftest=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --selftest) selftest=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    -*) echo "gpu_run.sh: unknown option $1" >&2; exit 2 ;;
    *) bundle="$1"; shift ;;
  esac
done
OUT="${OUT:-/tmp/hrda-gpu-out}"
mkdir -p "$OUT"
if [[ -z "$bundle" ]]; then
  if [[ -f .gpu/hrda-bundle.tgz ]]; then bundle=.gpu/hrda-bundle.tgz; else bundle=dist/hrda-bundle; fi
fi

main() {
budget="${GPU_RUN_BUDGET:-560}"
start=$SECONDS
left() { echo $(( budget - (SECONDS - start) )); }
want() { [[ ",$only," == *",$1,"* ]]; }
declare -a summary=()
status=0
note() { summary+=("$1"); }
section() { printf '\n==== %s (%d s elapsed, %d s left)\n' "$1" $((SECONDS - start)) "$(left)"; }
# can_run STEP SECONDS: false (the reason noted) without a GPU or with less time left than SECONDS
can_run() {
  if [[ $gpu == 0 ]]; then echo "$1: skipped: $why"; note "$1: skipped ($why)"; return 1; fi
  if (( $(left) < $2 )); then note "$1: NOT RUN (time budget spent)"; status=1; return 1; fi
}

if [[ -f "$bundle" ]]; then
  echo "gpu_run.sh: unpacking $bundle to /tmp/hrda-bundle"
  rm -rf /tmp/hrda-bundle && mkdir -p /tmp/hrda-bundle && tar -C /tmp/hrda-bundle -xzf "$bundle" || { echo "gpu_run.sh: cannot unpack $bundle"; exit 1; }
  bundle="$(ls -d /tmp/hrda-bundle/*/ | head -1)"
fi
bundle="$(cd "$bundle" 2>/dev/null && pwd)" || { echo "gpu_run.sh: no bundle at $bundle (build it with tools/gpu_prepare.sh and carry .gpu)"; exit 1; }
hrda="$bundle/bin/hrda"
[[ -x "$hrda" && -x "$bundle/runtime/bin/java" ]] || { echo "gpu_run.sh: $bundle is not a bundle (no bin/hrda or runtime)"; exit 1; }
export HRDA_CACHE="${HRDA_CACHE:-/tmp/hrda-javacpp-cache}"
echo "gpu_run.sh: bundle $bundle, OUT $OUT, budget ${budget}s, steps $only$([[ $selftest == 1 ]] && echo ', selftest')"
echo "host $(hostname) $(uname -srm), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# ---- is there a GPU?
gpu=0; why=""
if ! command -v nvidia-smi >/dev/null; then
  why="no nvidia-smi on this machine (no NVIDIA driver installed)"
elif ! smi="$(nvidia-smi -L 2>&1)"; then
  why="nvidia-smi failed: $(echo "$smi" | head -1)"
elif ! grep -q '^GPU ' <<<"$smi"; then
  why="nvidia-smi lists no GPU"
else
  gpu=1
fi
[[ $gpu == 1 ]] || echo "gpu_run.sh: NO GPU: $why; the gpu tests skip, bench and torch are not run"

if want info; then
  section "info"
  if [[ $gpu == 1 ]]; then nvidia-smi; else echo "nvidia-smi: $why"; fi
  echo "-- CUDA libraries seen (ldconfig, pip nvidia wheels):"
  ldconfig -p 2>/dev/null | grep -E 'libcudart\.so|libcublas\.so|libcudnn\.so|libcuda\.so' | sed 's/^/  /' | head -12
  if command -v python3 >/dev/null; then
    python3 - <<'PY' 2>/dev/null | sed 's/^/  /'
import site, glob
for p in site.getsitepackages():
    for f in sorted(glob.glob(p + "/nvidia/*/lib/lib*.so*")):
        if any(k in f for k in ("cublas", "cudnn.so", "cudart")): print(f)
PY
  fi
  echo "-- hrda info --device cuda"
  if timeout $(( $(left) > 60 ? 60 : $(left) )) "$hrda" info --device cuda; then note "info: CUDA usable"
  else note "info: CUDA not usable (see hrda info above)"; fi
fi

if want export; then
  section "export: a .pth from hrda export, read by torch.load(weights_only=True)"
  if ! python3 -c 'import torch' 2>/dev/null; then
    echo "export: skipped: python3 lacks torch"; note "export: skipped (no torch)"
  elif "$hrda" export --model tiny_hrda --out "$OUT/tiny_hrda.pth" > "$OUT/export_check.txt" 2>&1 \
       && python3 - "$OUT/tiny_hrda.pth" >> "$OUT/export_check.txt" 2>&1 <<'PY'
import sys, torch
ck = torch.load(sys.argv[1], map_location='cpu', weights_only=True)
sd = ck['state_dict']
assert all(k.startswith(('backbone.', 'decode_head.')) for k in sd), 'unexpected names'
assert all(torch.isfinite(v.float()).all() for v in sd.values()), 'non-finite values'
assert all(v.dtype == torch.int64 for k, v in sd.items() if k.endswith('num_batches_tracked'))
print(f"torch {torch.__version__}: {len(sd)} tensors, {sum(v.numel() for v in sd.values())} elements, meta {ck['meta']}")
PY
  then
    cat "$OUT/export_check.txt"; note "export: torch.load(weights_only=True) read hrda's .pth"
  else
    cat "$OUT/export_check.txt"; note "export: FAILED ($OUT/export_check.txt)"; status=1
  fi
fi

if want tests; then
  section "tests (JUnit, tag gpu)"
  tests_dir="$bundle/tests"
  launcher="$(ls "$tests_dir"/junit-platform-console-standalone-*.jar 2>/dev/null | head -1)"
  if [[ -z "$launcher" || ! -d "$tests_dir/classes" ]]; then
    echo "tests: the bundle has no tests/ (build it with tools/bundle.sh --tests)"; note "tests: NOT RUN (bundle without tests/)"; status=1
  elif (( $(left) < 30 )); then
    note "tests: NOT RUN (time budget spent)"; status=1
  else
    fixtures=""; for f in ../shared/fixtures shared/fixtures; do [[ -d "$f/cityscapes" ]] && fixtures="-Dhrda.fixtures=$(cd "$f" && pwd)" && break; done
    sys="-Dhrda.parity.selftest=$([[ $selftest == 1 ]] && echo true || echo false)"
    rm -rf "$OUT/junit"
    HRDA_JAVA_OPTS="-Xmx16g $fixtures $sys" HRDA_MAIN=org.junit.platform.console.ConsoleLauncher HRDA_CP="$launcher" \
      timeout $(( $(left) > 330 ? 300 : $(left) - 30 )) "$hrda" execute \
        --class-path "$tests_dir/classes" --scan-classpath "$tests_dir/classes" \
        --include-tag gpu --exclude-engine junit-vintage --exclude-engine junit-platform-suite --fail-if-no-tests \
        --details tree --disable-banner --disable-ansi-colors --reports-dir "$OUT/junit"
    rc=$?
    if [[ -f "$OUT/junit/TEST-junit-jupiter.xml" ]]; then
      counts="$(sed -n 's/.*<testsuite[^>]* tests="\([0-9]*\)" skipped="\([0-9]*\)" failures="\([0-9]*\)" errors="\([0-9]*\)".*/\1 run, \2 skipped, \3 failed, \4 errors/p' "$OUT/junit/TEST-junit-jupiter.xml" | head -1)"
    fi
    if [[ $rc == 0 ]]; then note "tests: passed (${counts:-no report}$([[ $gpu == 0 && $selftest == 0 ]] && echo '; skipped: no GPU'))"
    elif [[ $rc == 124 ]]; then note "tests: TIMED OUT (${counts:-no report})"; status=1
    else note "tests: FAILED rc=$rc (${counts:-no report})"; status=1; fi
  fi
fi

if want iter; then
  section "iter (IterationBench: one whole DACS iteration on CUDA)"
  if can_run iter 60; then
    : > "$OUT/iteration.txt"; ok=0
    for m in daformer_mitb0 hrda_mitb0; do
      (( $(left) < 40 )) && { echo "iter: $m not run (time budget spent)" | tee -a "$OUT/iteration.txt"; continue; }
      HRDA_JAVA_OPTS="-Xmx16g" HRDA_MAIN=dev.hrda.bench.IterationBench \
        timeout $(( $(left) > 150 ? 120 : $(left) - 20 )) "$hrda" "$m" 1 cuda 2>&1 | tee -a "$OUT/iteration.txt"
      [[ ${PIPESTATUS[0]} == 0 ]] && ok=$((ok + 1))
    done
    if [[ $ok == 2 ]]; then note "iter: 2 models ($OUT/iteration.txt)"; else note "iter: FAILED or cut ($ok of 2; $OUT/iteration.txt)"; status=1; fi
  fi
fi

if want ripu; then
  section "ripu (one acquisition round on CUDA at Cityscapes resolution)"
  if can_run ripu 60; then
    t=$(( $(left) > 150 ? 120 : $(left) - 20 ))
    { "$hrda" synth --out "$OUT/synth" --size 2048x1024 --count 8 -q \
      && "$hrda" export --model deeplabv2_r101 --out "$OUT/deeplabv2_r101.pth" \
      && timeout "$t" "$hrda" active select --checkpoint "$OUT/deeplabv2_r101.pth" --model deeplabv2_r101 --data cityscapes \
           --root "$OUT/synth/cityscapes" --split train --budget 2.2% --rounds 5 --interpolation bicubic --device cuda \
           --max-images 4 --out "$OUT/ripu_select"; } > "$OUT/ripu_select.txt" 2>&1
    rc=$?
    tail -8 "$OUT/ripu_select.txt"
    if [[ $rc == 0 ]]; then note "ripu: acquisition round timed ($OUT/ripu_select.txt)"; else note "ripu: FAILED rc=$rc ($OUT/ripu_select.txt)"; status=1; fi
    rm -rf "$OUT/synth" "$OUT/deeplabv2_r101.pth"  # 100+ MB that need not come back
  fi
fi

if want bench; then
  section "bench (JMH KernelBench, device=cuda, f32 and bf16)"
  if [[ $gpu == 0 ]]; then
    echo "bench: skipped: $why"; note "bench: skipped ($why)"
  elif (( $(left) < 60 )); then
    note "bench: NOT RUN (time budget spent)"; status=1
  else
    # 4 kernels x 2 dtypes, each a fork with 2 x 1 s warm-up and 3 x 1 s measurement
    HRDA_JAVA_OPTS="-Xmx8g" HRDA_MAIN=dev.hrda.bench.Report \
      timeout $(( $(left) > 240 ? 210 : $(left) - 20 )) "$hrda" 'dev.hrda.bench.KernelBench' \
        -p device=cuda -p dtype=f32,bf16 -wi 2 -w 1 -i 3 -r 1 -f 1 -foe true -rf json -rff "$OUT/jmh-kernels.json"
    rc=$?
    n="$(grep -c '"primaryMetric"' "$OUT/jmh-kernels.json" 2>/dev/null)"
    if [[ $rc == 0 && ${n:-0} -gt 0 ]]; then note "bench: $n result(s) ($OUT/jmh-kernels.json)"
    elif [[ $rc == 0 ]]; then note "bench: FAILED (no results in $OUT/jmh-kernels.json)"; status=1
    else note "bench: FAILED rc=$rc$([[ $rc == 124 ]] && echo ' (timed out)')"; status=1; fi
  fi
fi

if want model; then
  section "model (JMH ModelBench and AttentionBench, device=cuda)"
  if [[ $gpu == 0 ]]; then
    echo "model: skipped: $why"; note "model: skipped ($why)"
  elif (( $(left) < 90 )); then
    note "model: NOT RUN (time budget spent)"; status=1
  else
    # one training fwd+bwd of daformer_mitb5 (512^2) and hrda_mitb5 (1024^2 crop), batch 2, f32,
    # without and with checkpointing; peak activation memory in the log ([ModelBench] lines)
    HRDA_JAVA_OPTS="-Xmx16g" HRDA_MAIN=org.openjdk.jmh.Main \
      timeout $(( $(left) > 300 ? 240 : $(left) - 40 )) "$hrda" 'dev.hrda.bench.ModelBench' \
        -p device=cuda -p model=daformer_mitb5,hrda_mitb5 -p withCp=false,true -wi 1 -i 3 -f 1 -foe true \
        -rf json -rff "$OUT/jmh-model.json"
    rc1=$?
    # fused vs unfused attention fwd+bwd at the four MiT-B5 stage shapes (512^2 input), f32 and bf16
    HRDA_JAVA_OPTS="-Xmx8g" HRDA_MAIN=dev.hrda.bench.Report \
      timeout $(( $(left) > 150 ? 120 : $(left) - 20 )) "$hrda" 'dev.hrda.bench.AttentionBench.attention.*FwdBwd' \
        -p device=cuda -p dtype=f32,bf16 -p shape=s1-512,s2-512,s3-512,s4-512 -wi 1 -w 1 -i 2 -r 1 -f 1 -foe true \
        -rf json -rff "$OUT/jmh-attention.json"
    rc2=$?
    n1="$(grep -c '"primaryMetric"' "$OUT/jmh-model.json" 2>/dev/null)"; n2="$(grep -c '"primaryMetric"' "$OUT/jmh-attention.json" 2>/dev/null)"
    if [[ $rc1 == 0 && $rc2 == 0 ]]; then note "model: ${n1:-0} model and ${n2:-0} attention result(s)"
    else note "model: FAILED (ModelBench rc=$rc1, AttentionBench rc=$rc2; $n1/$n2 results)"; status=1; fi
  fi
fi

if want torch; then
  section "torch reference (.gpu/torch_reference.py)"
  ref="$root/.gpu/torch_reference.py"
  if [[ ! -f "$ref" ]]; then
    echo "torch: skipped: no $ref (tools/gpu_prepare.sh copies it there)"; note "torch: skipped (no .gpu/torch_reference.py)"
  elif [[ $gpu == 0 ]]; then
    echo "torch: skipped: $why"; note "torch: skipped ($why)"
  elif ! python3 -c 'import torch, transformers' 2>/dev/null; then
    echo "torch: skipped: python3 lacks torch or transformers"; note "torch: skipped (no torch/transformers)"
  else
    : > "$OUT/torch_reference.txt"
    # one measurement per line; TORCH_RUNS overrides (';'-separated argument lists)
    IFS=';' read -r -a runs <<<"${TORCH_RUNS:-attention;mit --size 512 --batch 2;mit --size 512 --batch 2 --bf16;hrda --batch 2 --bf16}"
    ok=0; failed=0
    for r in "${runs[@]}"; do
      if (( $(left) < 30 )); then echo "torch: '$r' not run (time budget spent)" | tee -a "$OUT/torch_reference.txt"; failed=$((failed + 1)); continue; fi
      echo "-- python3 torch_reference.py $r" | tee -a "$OUT/torch_reference.txt"
      # shellcheck disable=SC2086
      PYTHONUNBUFFERED=1 timeout $(( $(left) > 200 ? 180 : $(left) - 10 )) python3 "$ref" $r 2>&1 | tee -a "$OUT/torch_reference.txt"
      if [[ ${PIPESTATUS[0]} == 0 ]]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    done
    note "torch: $ok run(s) ok, $failed failed or not run ($OUT/torch_reference.txt)"
    [[ $failed == 0 ]] || status=1
  fi
fi

section "summary"
[[ $gpu == 1 ]] || echo "NO GPU: $why"
for s in "${summary[@]}"; do echo "  $s"; done
echo "files in $OUT:"; (cd "$OUT" && find . -type f | sort | sed 's/^/  /')
return $status
}

main 2>&1 | tee -a "$OUT/gpu_run.log"
exit "${PIPESTATUS[0]}"
