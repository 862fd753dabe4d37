# Sourced by test-sanitize.sh (ASan + UBSan) and test-tsan.sh (TSan): what their runs share.
# The addon is built with cmake-js (CMakeLists.txt, -DSIMD_ADAM_SANITIZE=...) into a build
# directory of its own, so the normal build/ is left alone. Node itself is not instrumented, so
# the compiler's sanitizer runtimes are preloaded into every process of the run (vitest's forks,
# worker_threads, the tsx children some tests spawn); SIMD_ADAM_ADDON makes each of them load the
# sanitized addon. SIMD_ADAM_SANITIZE_RUN tells the fuzz and leak tests that RSS means nothing
# under a sanitizer (test-sanitize.sh says why), so they run their cycles without bounding it.
#
# sanitizer_prepare <log prefix> <address|thread> <build dir> <runtime library>...
#   Builds, then cds to the repository root and exports SIMD_ADAM_ADDON, SIMD_ADAM_SANITIZE_RUN
#   and LD_PRELOAD (the runtimes, before any LD_PRELOAD already set); sets $root. Exits on failure.
# Environment: CXX (default g++; must be the compiler cmake uses, or the runtimes found here are
# not the ones the addon was linked against)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

sanitizer_prepare() {
  local tag="$1" sanitize="$2" out="$3"
  shift 3
  local cxx="${CXX:-g++}" lib path preload=""
  cd "$root"

  mkdir -p "$out"
  # Optimized (the kernels as shipped), with debug info for the reports, and without NDEBUG so the
  # addon's asserts are live too.
  npx cmake-js build --out "$out" --CDSIMD_ADAM_SANITIZE="$sanitize" --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
    --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" >"$out/build.log" 2>&1 ||
    { cat "$out/build.log" >&2; echo "$tag: the $sanitize-sanitizer build failed (log above)" >&2; exit 1; }
  # cmake-js puts the module under Release/ whatever the build type.
  local addon="$root/$out/Release/simd_adam.node"
  [ -f "$addon" ] || { echo "$tag: the build left no $addon" >&2; exit 1; }

  for lib in "$@"; do
    path="$("$cxx" -print-file-name="$lib")"
    # -print-file-name echoes the bare name back when it has no such file.
    [ "$path" != "$lib" ] && [ -e "$path" ] || { echo "$tag: $cxx has no $lib" >&2; exit 1; }
    preload="$preload $(realpath "$path")"
  done

  echo "$tag: $addon, preloading$preload"
  export SIMD_ADAM_ADDON="$addon" SIMD_ADAM_SANITIZE_RUN=1
  export LD_PRELOAD="${preload# }${LD_PRELOAD:+ $LD_PRELOAD}"
}
