#!/usr/bin/env bash
# The whole vitest suite against the addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMakeLists.txt, -DSIMD_ADAM_SANITIZE=address), in build-asan/ so the
# normal build/ is left alone. Node itself is not instrumented, so the compiler's ASan and UBSan
# runtimes are preloaded into every process of the run (vitest's forks, worker_threads, the tsx
# children some tests spawn); SIMD_ADAM_ADDON makes each of them load the sanitized addon.
#
# detect_leaks=0: V8 and Node free little at exit by design; LeakSanitizer would report that,
# not us (test/leak.test.ts covers our leaks). halt_on_error / -fno-sanitize-recover: the first
# report kills the process, so a finding cannot scroll by inside a passing run.
# ASan holds freed memory back (its quarantine, 256 MB) to catch use after free, and its shadow
# memory grows with the heap: RSS means nothing here, so SIMD_ADAM_SANITIZE_RUN tells the fuzz
# and leak tests to run their cycles (under the sanitizers) without bounding RSS.
#
# Usage: scripts/test-sanitize.sh [vitest arguments, e.g. a test file]
# Environment: CXX (default g++; must be the compiler cmake uses)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cxx="${CXX:-g++}"

mkdir -p build-asan
# Optimized (the kernels as shipped), with debug info for the reports, and without NDEBUG so the
# addon's asserts are live too.
npx cmake-js build --out build-asan --CDSIMD_ADAM_SANITIZE=address --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" >build-asan/build.log 2>&1 ||
  { cat build-asan/build.log >&2; echo "test-sanitize: the sanitized build failed (log above)" >&2; exit 1; }
# cmake-js puts the module under Release/ whatever the build type.
addon="$root/build-asan/Release/simd_adam.node"
[ -f "$addon" ] || { echo "test-sanitize: the build left no $addon" >&2; exit 1; }

preload=""
for lib in libasan.so libubsan.so; do
  path="$("$cxx" -print-file-name="$lib")"
  # -print-file-name echoes the bare name back when it has no such file.
  [ "$path" != "$lib" ] && [ -e "$path" ] || { echo "test-sanitize: $cxx has no $lib" >&2; exit 1; }
  preload="$preload $(realpath "$path")"
done

echo "test-sanitize: $addon, preloading$preload"
export SIMD_ADAM_ADDON="$addon" SIMD_ADAM_SANITIZE_RUN=1
export LD_PRELOAD="${preload# }${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
npx tsc -p tsconfig.json --noEmit
exec npx vitest run "$@"
