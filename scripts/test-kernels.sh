#!/usr/bin/env bash
# Checks every SIMD kernel bit-for-bit against the scalar one (native/test/kernel_check.cc) and
# every SIMD reduction against the scalar reductions (native/test/reduce_check.cc): natively for
# this machine's kernels, then NEON cross-compiled for aarch64 and run under qemu-aarch64, so
# NEON is covered on an x86-64 machine.
#
# Kernel objects get binding.gyp's kernel_cflags (plus the ISA flags of their target), the
# harness the baseline: a kernel compiled differently here than in the addon would prove
# nothing. Never -ffast-math or -march=native: the first breaks NaN/Inf parity, the second would
# let the baseline harness and scalar kernel use instructions dispatch.cc never assumes.
#
# Usage: scripts/test-kernels.sh [--allow-missing-cross]
#   --allow-missing-cross  exit 0 when the aarch64 cross compiler or qemu-aarch64 is missing
#                          (the native check must still pass)
# Environment: CXX (native compiler, default g++), CROSS_CXX (default aarch64-linux-gnu-g++),
#              QEMU_AARCH64 (default qemu-aarch64)
set -euo pipefail

allow_missing_cross=0
for arg in "$@"; do
  case "$arg" in
    --allow-missing-cross) allow_missing_cross=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-kernels: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="build/kernel-check"
mkdir -p "$out/native" "$out/aarch64"
start_ns=$(date +%s%N)

CXX="${CXX:-g++}"
CROSS_CXX="${CROSS_CXX:-aarch64-linux-gnu-g++}"
QEMU_AARCH64="${QEMU_AARCH64:-qemu-aarch64}"

# binding.gyp: target_defaults cflags_cc and cflags, then the kernel targets' kernel_cflags.
# -Wall -Wextra are node-gyp's defaults too; warnings are shown, not fatal.
common=(-std=c++17 -fPIC -Wall -Wextra -ffp-contract=off -fvisibility=hidden)
kernel_cflags=(-O3 -fno-math-errno -ffp-contract=off -fno-exceptions -fvisibility=hidden)
harness_cflags=(-O2)

elapsed() { echo $(( ($(date +%s%N) - start_ns) / 1000000 )); }

# Weak symbols in a kernel object are how AVX-512 code leaks into baseline callers (TOOLCHAIN.md).
check_no_weak() {
  local nm_tool="$1"; shift
  local obj weak bad=0
  for obj in "$@"; do
    weak="$("$nm_tool" -C "$obj" | grep ' [WV] ' || true)"
    if [[ -n "$weak" ]]; then
      echo "test-kernels: weak symbols in kernel object $obj (may serve baseline callers):" >&2
      echo "$weak" >&2
      bad=1
    fi
  done
  return "$bad"
}

status=0

# ---- native -------------------------------------------------------------------------------
arch="$(uname -m)"
echo "== native ($arch, $("$CXX" --version | head -n1))"
native_objs=()
native_reduce_objs=()
compile_kernel() { # compiler dir name extra-flags...: the Adam kernel and the reductions of one ISA
  local cxx="$1" dir="$2" name="$3"; shift 3
  "$cxx" "${common[@]}" "${kernel_cflags[@]}" "$@" -c "native/adam_$name.cc" -o "$dir/adam_$name.o"
  "$cxx" "${common[@]}" "${kernel_cflags[@]}" "$@" -c "native/reduce_$name.cc" -o "$dir/reduce_$name.o"
}
compile_kernel "$CXX" "$out/native" scalar
native_objs+=("$out/native/adam_scalar.o")
native_reduce_objs+=("$out/native/reduce_scalar.o")
case "$arch" in
  x86_64|amd64)
    compile_kernel "$CXX" "$out/native" avx2 -mavx2 -mfma
    compile_kernel "$CXX" "$out/native" avx512 -mavx512f -Wno-maybe-uninitialized
    native_objs+=("$out/native/adam_avx2.o" "$out/native/adam_avx512.o")
    native_reduce_objs+=("$out/native/reduce_avx2.o" "$out/native/reduce_avx512.o")
    ;;
  aarch64|arm64)
    compile_kernel "$CXX" "$out/native" neon
    native_objs+=("$out/native/adam_neon.o")
    native_reduce_objs+=("$out/native/reduce_neon.o")
    ;;
esac
check_no_weak nm "${native_objs[@]}" "${native_reduce_objs[@]}" || status=1
"$CXX" "${common[@]}" "${harness_cflags[@]}" native/test/kernel_check.cc "${native_objs[@]}" -lm \
  -o "$out/native/kernel_check"
"$out/native/kernel_check" || status=1
"$CXX" "${common[@]}" "${harness_cflags[@]}" native/test/reduce_check.cc "${native_reduce_objs[@]}" -lm \
  -o "$out/native/reduce_check"
"$out/native/reduce_check" || status=1
echo "   native done at $(elapsed) ms"

# ---- aarch64 under qemu ---------------------------------------------------------------------
if [[ "$arch" == aarch64 || "$arch" == arm64 ]]; then
  echo "== aarch64 cross check skipped: this machine is aarch64, NEON was checked natively"
else
  echo "== aarch64 (NEON) cross-compiled, run under qemu"
  missing=()
  command -v "$CROSS_CXX" >/dev/null 2>&1 || missing+=("$CROSS_CXX")
  command -v "$QEMU_AARCH64" >/dev/null 2>&1 || missing+=("$QEMU_AARCH64")
  if (( ${#missing[@]} > 0 )); then
    echo "test-kernels: missing ${missing[*]}: the NEON kernel was NOT checked." >&2
    echo "  Install on Debian/Ubuntu: apt-get install -y g++-aarch64-linux-gnu qemu-user" >&2
    if (( allow_missing_cross )); then
      echo "  (--allow-missing-cross: not treated as a failure)" >&2
    else
      echo "  (run with --allow-missing-cross to accept this)" >&2
      status=1
    fi
  else
    echo "   $("$CROSS_CXX" --version | head -n1); $("$QEMU_AARCH64" --version | head -n1)"
    a64="$out/aarch64"
    compile_kernel "$CROSS_CXX" "$a64" scalar
    compile_kernel "$CROSS_CXX" "$a64" neon
    cross_nm="${CROSS_CXX%g++}nm"
    command -v "$cross_nm" >/dev/null 2>&1 || cross_nm=nm
    check_no_weak "$cross_nm" "$a64/adam_scalar.o" "$a64/adam_neon.o" "$a64/reduce_scalar.o" "$a64/reduce_neon.o" || status=1
    # Static, so qemu needs no aarch64 sysroot (QEMU_LD_PREFIX) at run time.
    "$CROSS_CXX" "${common[@]}" "${harness_cflags[@]}" -static native/test/kernel_check.cc \
      "$a64/adam_scalar.o" "$a64/adam_neon.o" -lm -o "$a64/kernel_check"
    "$QEMU_AARCH64" "$a64/kernel_check" || status=1
    "$CROSS_CXX" "${common[@]}" "${harness_cflags[@]}" -static native/test/reduce_check.cc \
      "$a64/reduce_scalar.o" "$a64/reduce_neon.o" -lm -o "$a64/reduce_check"
    "$QEMU_AARCH64" "$a64/reduce_check" || status=1
    echo "   aarch64 done at $(elapsed) ms"
  fi
fi

if (( status == 0 )); then
  echo "test-kernels: ok ($(elapsed) ms)"
else
  echo "test-kernels: FAILED ($(elapsed) ms)"
fi
exit "$status"
