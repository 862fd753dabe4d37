#!/usr/bin/env bash
# The tests that run native code on several threads (the thread pool, stepAsync on libuv's
# workers, worker_threads, the concurrency table and worker termination) against the addon
# built with ThreadSanitizer (CMakeLists.txt, -DSIMD_ADAM_SANITIZE=thread), in build-tsan/.
# As in test-sanitize.sh, Node is not instrumented: the TSan runtime is preloaded into every
# process of the run and SIMD_ADAM_ADDON makes each load the instrumented addon. TSan sees the
# addon's own accesses and every lock and thread (its interceptors), so a race between two of
# our threads, or between ours and libuv's, is reported; any report fails the run (exitcode 66).
#
# TSan maps its shadow memory at fixed addresses, which the kernel's higher ASLR entropy can
# collide with ("unexpected memory mapping"): the run is then wrapped in `setarch -R`.
#
# Usage: scripts/test-tsan.sh [vitest arguments, e.g. a test file]
# Environment: CXX (default g++; must be the compiler cmake uses)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cxx="${CXX:-g++}"

mkdir -p build-tsan
npx cmake-js build --out build-tsan --CDSIMD_ADAM_SANITIZE=thread --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" >build-tsan/build.log 2>&1 ||
  { cat build-tsan/build.log >&2; echo "test-tsan: the ThreadSanitizer build failed (log above)" >&2; exit 1; }
addon="$root/build-tsan/Release/simd_adam.node"
[ -f "$addon" ] || { echo "test-tsan: the build left no $addon" >&2; exit 1; }

runtime="$("$cxx" -print-file-name=libtsan.so)"
[ "$runtime" != libtsan.so ] && [ -e "$runtime" ] || { echo "test-tsan: $cxx has no libtsan.so" >&2; exit 1; }
runtime="$(realpath "$runtime")"

tests=(test/threads.test.ts test/workers.test.ts test/step_async.test.ts test/concurrency.test.ts test/termination.test.ts)
[ $# -gt 0 ] && tests=("$@")

echo "test-tsan: $addon, preloading $runtime"
export SIMD_ADAM_ADDON="$addon" SIMD_ADAM_SANITIZE_RUN=1
export LD_PRELOAD="$runtime${LD_PRELOAD:+ $LD_PRELOAD}"
# ignore_noninstrumented_modules=1: the interceptors (locks, memcpy, file descriptors) report
# only calls made from instrumented code, that is from the addon: Node, V8, libuv and vitest's
# bundler are not instrumented, and TSan, blind to their atomics, would report them.
# report_signal_unsafe=0: Node's own signal handlers call functions TSan deems unsafe there;
# scripts/tsan-suppressions.txt: what remains of those reports, by the names of their frames.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:ignore_noninstrumented_modules=1:report_signal_unsafe=0:second_deadlock_stack=1:suppressions=$root/scripts/tsan-suppressions.txt${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
# node, not npx: npm's own process crashes under the preloaded runtime.
run=(node node_modules/vitest/vitest.mjs run "${tests[@]}")
if setarch "$(uname -m)" -R true 2>/dev/null; then run=(setarch "$(uname -m)" -R "${run[@]}"); fi
exec "${run[@]}"
