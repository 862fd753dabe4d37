#!/usr/bin/env bash
# The whole vitest suite against the addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DSIMD_ADAM_SANITIZE=address) in build-asan/, their runtimes
# preloaded into every process of the run (sanitizer-build.sh, shared with test-tsan.sh).
#
# detect_leaks=0: V8 and Node free little at exit by design; LeakSanitizer would report that,
# not us (test/leak.test.ts covers our leaks). halt_on_error / -fno-sanitize-recover: the first
# report kills the process, so a finding cannot scroll by inside a passing run.
# ASan holds freed memory back (its quarantine, 256 MB) to catch use after free, and its shadow
# memory grows with the heap: RSS means nothing here, hence SIMD_ADAM_SANITIZE_RUN.
#
# Usage: scripts/test-sanitize.sh [vitest arguments, e.g. a test file]
# Environment: CXX (default g++; must be the compiler cmake uses)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sanitizer-build.sh"
sanitizer_prepare test-sanitize address build-asan libasan.so libubsan.so

export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
npx tsc -p tsconfig.json --noEmit
exec npx vitest run "$@"
