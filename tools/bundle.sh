#!/usr/bin/env bash
# Builds a self-contained bundle: a jlink'd Java runtime, the jars and our native libraries.
# Runs `bin/hrda info` on a Linux x86-64 machine with no Java installed.
#   tools/bundle.sh [--with-opencv] [--with-dnnl] [--tests] [--cuda-archs LIST] [--out DIR]   (default DIR: dist/hrda-bundle)
# oneDNN (the CPU backend's f32 convolutions) is left out unless --with-dnnl: its native jar is
# 26 MiB (libdnnl.so.3: 86 MiB unpacked), which would take the bundle past 64 MiB; without it the
# CPU backend runs every convolution as im2col + OpenBLAS (`bin/hrda info` says so). The GPU
# machine, what the bundle is for, runs the CUDA backend (cuDNN).
# --cuda-archs builds libhrda_cuda for LIST only (e.g. 90 for H100/H200: 1.5 MiB instead of 6),
# in its own build folder (java/target/native-build-LIST), leaving the default build alone.
# --tests adds tests/: the test classes and resources (tests/classes, a folder as in Maven's
# target/test-classes: tests read resources as files) and JUnit's console launcher, to run the
# tests with the bundled java (tools/gpu_run.sh does), plus java.xml to the runtime.
# CUDA/cuDNN are NOT bundled: libhrda_cuda loads libcudart.so.13 and cuBLAS/cuDNN from the machine.
# bin/hrda of the bundle adds to LD_LIBRARY_PATH, in this order: $CUDA_HOME/lib64,
# /usr/local/cuda/lib64, /usr/local/cuda-13*/lib64, and the lib dirs of pip's nvidia wheels
# (site-packages/nvidia/*/lib) found with python3, so a PyTorch install's cuBLAS/cuDNN serve.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/dist/hrda-bundle"; opencv=0; dnnl=0; tests=0; archs=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --with-opencv) opencv=1; shift ;;
    --with-dnnl) dnnl=1; shift ;;
    --tests) tests=1; shift ;;
    --cuda-archs) archs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
args=(-B -q -DskipTests)
[[ $tests == 1 ]] && args+=(-Ptest-kit)
[[ -n "$archs" ]] && args+=("-Dcuda.archs=$archs" "-Dnative.build=$here/java/target/native-build-${archs//;/-}")
(cd "$here" && mvn "${args[@]}" ${MVN_ARGS:-} package)   # MVN_ARGS=-Dhrda.cuda=OFF for a CPU-only bundle
rm -rf "$out"; mkdir -p "$out/lib" "$out/bin"
cp "$here/java/target/hrda-java.jar" "$here/benchmarks/target/benchmarks.jar" "$out/lib/"
if [[ $tests == 1 ]]; then
  # the launcher must be the platform release of the Jupiter the tests were compiled against
  jv="$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$here/pom.xml")"
  launcher="$here/java/target/test-launcher/junit-platform-console-standalone-1.${jv#5.}.jar"
  [[ -f "$launcher" ]] || { echo "bundle.sh: $launcher missing (junit.platform.version must be 1.${jv#5.})" >&2; exit 1; }
  mkdir -p "$out/tests"
  cp "$launcher" "$out/tests/"
  cp -r "$here/java/target/test-classes" "$out/tests/classes"
fi
# repack JAR OUT PATTERN...: copies JAR to OUT without the entries matching the patterns
repack() {
  local j="$1" dst="$2" tmp; shift 2
  tmp="$(mktemp -d)"
  (cd "$tmp" && unzip -q "$j" && for pat in "$@"; do rm -rf $pat; done && zip -q -9 -r "$dst" .)
  rm -rf "$tmp"
}
for j in "$here"/benchmarks/target/lib/*.jar; do
  name="$(basename "$j")"
  d=org/bytedeco
  case "$name" in
    hrda-java*) continue ;;
    opencv-*) [[ $opencv == 1 ]] || continue ;;
    dnnl-*|opencl-*) [[ $dnnl == 1 ]] || continue ;;  # opencl: the dnnl preset's parent
    openblas-*-linux-x86_64.jar)
      # only the no-LAPACK JNI library we use; it needs libopenblas.so.0 (loaded under the name
      # libopenblas_nolapack.so.0), which must stay. The LAPACK JNI libraries are 2 x 24 MB;
      # OpenCV loads libjniopenblas, so that one stays with --with-opencv.
      lapack=""; [[ $opencv == 1 ]] || lapack="$d/openblas/linux-x86_64/libjniopenblas.so META-INF/native-image/linux-x86_64/jniopenblas"
      repack "$j" "$out/lib/$name" $lapack $d/openblas/linux-x86_64/libjniopenblas_full.so \
        $d/openblas/linux-x86_64/include $d/openblas/linux-x86_64/lib META-INF/native-image/linux-x86_64/jniopenblas_full
      continue ;;
    cuda-*-linux-x86_64.jar)
      # only the JNI wrappers of cudart, cuBLAS and cuDNN (CudaBackend's presets; cudnn inherits
      # cublas, which inherits cudart), not NPP, nvJPEG, cuFFT, cuSOLVER, ... (4 MB)
      repack "$j" "$out/lib/$name" \
        $(unzip -Z1 "$j" | grep -E '^org/bytedeco/cuda/linux-x86_64/libjni.*\.so$' \
          | grep -vE '/libjni(cudart|cublas|cudnn)\.so$' | tr '\n' ' ')
      continue ;;
  esac
  cp "$j" "$out/lib/"
done
# The runtime's modules. Not java.desktop (+15 MiB): PNG labels are decoded by dev.hrda.data.Png.
modules=java.base,java.logging,java.management,jdk.unsupported
# --tests: java.xml for the launcher's XML reports
[[ $tests == 1 ]] && modules="$modules,java.xml"
# References to modules left out on purpose, as module:jar-glob: opencv's org.opencv.highgui (GUI
# windows), commons-math3's 2-D geometry (JMH uses its statistics only), the JDBC routines of the
# CSV parser shaded into JUnit's launcher, and the tests' ImageIO reference of PngTest (tests/classes;
# gpu_run.sh runs the gpu-tagged tests only).
unused="java.desktop:opencv-* java.desktop:commons-math3-* java.sql:junit-platform-console-standalone-*"
unused="$unused java.desktop:classes"
# Jackson's optional handlers (java.beans annotations, java.sql dates, DOM nodes: each loaded
# only when such a type is met, guarded where it may be absent) and SnakeYAML's JavaBean
# introspection (unused: jackson-dataformat-yaml reads events only). Config and JSON reading run
# without these modules (checked with the bundled runtime).
unused="$unused java.desktop:jackson-databind-* java.sql:jackson-databind-* java.xml:jackson-databind-* java.desktop:snakeyaml-*"
# check: every module that the bundled jars' classes refer to directly is in the list (jdeps on
# the extracted classes: several bytedeco jars are modules whose jdeps resolution would fail)
missing=""; jd="$(mktemp -d)"
for j in "$out"/lib/*.jar "$out"/tests/*.jar "$out"/tests/classes; do
  [[ -e "$j" ]] || continue
  name="$(basename "$j")"
  if [[ -d "$j" ]]; then cp -r "$j" "$jd/$name"
  else mkdir "$jd/$name"; (cd "$jd/$name" && unzip -q -o "$j" '*.class' -x 'module-info.class' 'META-INF/*' 2>/dev/null || true); fi
  [[ -n "$(ls -A "$jd/$name")" ]] || continue
  for m in $(jdeps --ignore-missing-deps -s "$jd/$name" 2>/dev/null | awk '$2 == "->" && $3 ~ /^(java|jdk)\./ {print $3}'); do
    [[ ",$modules," == *",$m,"* ]] && continue
    ok=0; for u in $unused; do [[ "$m" == "${u%%:*}" && "$name" == ${u#*:} ]] && ok=1; done
    [[ $ok == 1 ]] || missing="$missing $m($name)"
  done
done
rm -rf "$jd"
if [[ -n "$missing" ]]; then echo "bundle.sh: modules missing from the jlink list:$missing" >&2; exit 1; fi
jlink --add-modules "$modules" \
      --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/runtime"
# the JDK's libjvm.so keeps its full symbol table (4 MB); the dynamic symbols are all it needs
if command -v strip >/dev/null; then
  find "$out/runtime" -name '*.so' -exec chmod u+w {} + -exec strip --strip-unneeded {} +
fi
cat > "$out/bin/hrda" <<'SH'
#!/usr/bin/env bash
# Runs the CLI with the bundled java. HRDA_JAVA_OPTS (default -Xmx8g), HRDA_CACHE (JavaCPP's
# extraction folder), HRDA_MAIN (another main class) and HRDA_CP (more classpath) adjust it.
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
  -cp "$b/lib/*${HRDA_CP:+:$HRDA_CP}" "${HRDA_MAIN:-dev.hrda.cli.Main}" "$@"
SH
chmod +x "$out/bin/hrda"
du -sh "$out" | awk '{print "bundle size: " $1}'
du -sh "$out/runtime" "$out/lib" $( [[ -d "$out/tests" ]] && echo "$out/tests" ) | sed 's/^/  /'
