/* What the kernel harnesses share: the test row layout (every length 0..49 at every 4-byte
 * offset, fenced by guard values), bit access to floats, reproducible random inputs, and which
 * of the compiled backends this CPU can run. */
#ifndef SIMD_ADAM_TEST_HARNESS_H
#define SIMD_ADAM_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/ops_scalar.h"

namespace {

/* Lengths 0..49 cover 3 * lanes + 1 for the widest kernel (16 lanes): zero, one and several
 * full vectors, each with every possible tail. */
const size_t kMaxN = 49;
const size_t kMaxOffset = 3;
/* Guards are a full vector wide on each side, so an overrun by up to one AVX-512 vector is seen. */
const size_t kGuard = 16;
/* A multiple of 16 floats keeps every row 64-byte aligned, so offset k means exactly 4k-byte
 * alignment mod 64 and offsets 1 and 3 give pointers that are only 4-byte aligned. */
const size_t kRow = 96;
static_assert(kGuard + kMaxOffset + kMaxN + kGuard <= kRow, "row too short");
static_assert(kRow % 16 == 0, "rows must stay 64-byte aligned");

/* A signalling-NaN bit pattern no kernel computes: a store of anything else is visible, and a
 * bitwise comparison is not fooled by NaN != NaN. */
const uint32_t kGuardBits = 0x7fa5d00du;

inline uint32_t bits_of(float x) { return scalar_ops::bits(x); }
inline float from_bits(uint32_t b) { return scalar_ops::from_bits(b); }

/* SplitMix64: spreads nearby seeds over the whole state space. */
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* xorshift64*: reproducible inputs from a seed, the same on every ISA and under qemu. */
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(splitmix64(seed) | 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
  uint32_t below(uint32_t n) { return (uint32_t)((next() >> 32) % n); }
  double unit() { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }
};

/* One backend compiled into a harness: its name, its kernels (a function or a table of them)
 * and whether this CPU can run it. */
template <class K>
struct Backend {
  const char *name;
  K kernels;
  bool runs;
};

/* What this CPU can run, on the conditions runtime/dispatch.cc checks: the avx2 objects are
 * built with -mfma too, and __builtin_cpu_supports also checks that the OS enabled the
 * registers. The harness itself is built at the baseline, so only these guard the calls. */
struct Cpu {
  bool avx2 = false, avx512f = false, avx512bf16 = false;
};

inline Cpu this_cpu() {
  Cpu cpu;
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  cpu.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512f = __builtin_cpu_supports("avx512f");
  cpu.avx512bf16 = cpu.avx512f && __builtin_cpu_supports("avx512bf16");
#endif
  return cpu;
}

}  // namespace

#endif
