#!/usr/bin/env bash
# Checks every SIMD kernel bit-for-bit against the scalar one (native/test/kernel_check.cc) and
# every SIMD reduction against the scalar reductions (native/test/reduce_check.cc): natively for
# this machine's kernels, then NEON cross-compiled for aarch64 and run under qemu-aarch64, so
# NEON is covered on an x86-64 machine.
#
# Kernel objects get the flags of native/build.json (common, kernel and their ISA's), exactly as
# binding.gyp and CMakeLists.txt build them; the harness the baseline: a kernel compiled
# differently here than in the addon would prove nothing. Never -ffast-math or -march=native: the first breaks NaN/Inf parity, the second would
# let the baseline harness and scalar kernel use instructions native/runtime/dispatch.cc never assumes.
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

# -Wall -Wextra are node-gyp's defaults too; warnings are shown, not fatal.
list() { node scripts/native-build.cjs "$1" "$2"; }
read -r -a common <<<"-std=c++17 -fPIC -Wall -Wextra -Inative $(list flags common)"
read -r -a kernel_cflags <<<"$(list flags kernel)"
harness_cflags=(-O2)

elapsed() { echo $(( ($(date +%s%N) - start_ns) / 1000000 )); }

# Weak symbols in a kernel object are how AVX-512 code leaks into baseline callers: an inline
# function compiled with -mavx512f, emitted weak, can be the copy the linker keeps for all.
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
objs=()
compile_kernel() { # compiler dir isa: every source of the ISA's group, with its flags; appends to objs
  local cxx="$1" dir="$2" isa="$3" src obj
  local -a isa_flags
  read -r -a isa_flags <<<"$(list flags "$isa")"
  for src in $(list sources "$isa"); do
    obj="$dir/$(basename "${src%.cc}").o"
    "$cxx" "${common[@]}" "${kernel_cflags[@]}" "${isa_flags[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
  done
}
compile_kernel "$CXX" "$out/native" scalar
case "$arch" in
  x86_64|amd64) compile_kernel "$CXX" "$out/native" avx2; compile_kernel "$CXX" "$out/native" avx512; compile_kernel "$CXX" "$out/native" avx512bf16 ;;
  aarch64|arm64) compile_kernel "$CXX" "$out/native" neon ;;
esac
check_no_weak nm "${objs[@]}" || status=1
for harness in kernel_check reduce_check lowbit_check; do
  "$CXX" "${common[@]}" "${harness_cflags[@]}" "native/test/$harness.cc" "${objs[@]}" -lm -o "$out/native/$harness"
  "$out/native/$harness" || status=1
done
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
    objs=()
    compile_kernel "$CROSS_CXX" "$a64" scalar
    compile_kernel "$CROSS_CXX" "$a64" neon
    cross_nm="${CROSS_CXX%g++}nm"
    command -v "$cross_nm" >/dev/null 2>&1 || cross_nm=nm
    check_no_weak "$cross_nm" "${objs[@]}" || status=1
    # Static, so qemu needs no aarch64 sysroot (QEMU_LD_PREFIX) at run time.
    for harness in kernel_check reduce_check lowbit_check; do
      "$CROSS_CXX" "${common[@]}" "${harness_cflags[@]}" -static "native/test/$harness.cc" "${objs[@]}" -lm -o "$a64/$harness"
      "$QEMU_AARCH64" "$a64/$harness" || status=1
    done
    echo "   aarch64 done at $(elapsed) ms"
  fi
fi

if (( status == 0 )); then
  echo "test-kernels: ok ($(elapsed) ms)"
else
  echo "test-kernels: FAILED ($(elapsed) ms)"
fi
exit "$status"
