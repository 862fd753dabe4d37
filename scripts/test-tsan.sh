#!/usr/bin/env bash
# The tests that run native code on several threads (the thread pool, stepAsync on libuv's
# workers, worker_threads, the concurrency table and worker termination) against the addon
# built with ThreadSanitizer (-DSIMD_ADAM_SANITIZE=thread) in build-tsan/, its runtime preloaded
# into every process of the run (sanitizer-build.sh, shared with test-sanitize.sh). TSan sees the
# addon's own accesses and every lock and thread (its interceptors), so a race between two of
# our threads, or between ours and libuv's, is reported; any report fails the run (exitcode 66).
#
# TSan maps its shadow memory at fixed addresses, which the kernel's higher ASLR entropy can
# collide with ("unexpected memory mapping"): the run is then wrapped in `setarch -R`.
#
# Usage: scripts/test-tsan.sh [vitest arguments, e.g. a test file]
# Environment: CXX (default g++; must be the compiler cmake uses)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sanitizer-build.sh"
sanitizer_prepare test-tsan thread build-tsan libtsan.so

tests=(test/threads.test.ts test/workers.test.ts test/step_async.test.ts test/concurrency.test.ts test/termination.test.ts)
[ $# -gt 0 ] && tests=("$@")

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
