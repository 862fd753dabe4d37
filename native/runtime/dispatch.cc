#include "dispatch.h"

#include <string.h>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

namespace {

#if defined(__x86_64__) || defined(_M_X64)
#if defined(_MSC_VER)
/* CPUID says what the core has, XGETBV what the OS saves on a context switch: both must agree. */
bool cpu_has(int leaf_bit_ecx_1, int leaf7_bit_ebx, unsigned long long xcr0_mask) {
  int info[4];
  __cpuid(info, 1);
  const bool osxsave = (info[2] & (1 << 27)) != 0;
  if (!osxsave || (leaf_bit_ecx_1 >= 0 && !(info[2] & (1 << leaf_bit_ecx_1)))) return false;
  if ((_xgetbv(0) & xcr0_mask) != xcr0_mask) return false;
  __cpuidex(info, 7, 0);
  return (info[1] & (1 << leaf7_bit_ebx)) != 0;
}
bool has_avx2_fma() { return cpu_has(12 /* FMA */, 5 /* AVX2 */, 0x6); }
bool has_avx512f() { return cpu_has(-1, 16 /* AVX512F */, 0xE6); }
bool has_avx512bf16() {
  int info[4];
  __cpuidex(info, 7, 1);
  return has_avx512f() && (info[0] & (1 << 5)) != 0;
}
#else
/* __builtin_cpu_supports also checks, through XGETBV, that the OS enabled the registers. */
bool has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool has_avx512f() { return __builtin_cpu_supports("avx512f"); }
bool has_avx512bf16() { return has_avx512f() && __builtin_cpu_supports("avx512bf16"); }
#endif
#endif


struct registry {
  simd_adam_backend list[4];
  size_t count;

  registry() : count(0) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(_M_X64))
    __builtin_cpu_init();
#endif
#if defined(__x86_64__) || defined(_M_X64)
    /* Both bf16 kernels give the same bits; vcvtneps2bf16 is the faster store where it exists. */
    const adam_step_bf16_fn bf16_avx512 = has_avx512bf16() ? adam_step_bf16_avx512bf16 : adam_step_bf16_avx512;
    list[count++] = {"avx512", {adam_step_f32_avx512, bf16_avx512, adam_step_q8_avx512}, reduce_kernels_avx512(), has_avx512f()};
    list[count++] = {"avx2", {adam_step_f32_avx2, adam_step_bf16_avx2, adam_step_q8_avx2}, reduce_kernels_avx2(), has_avx2_fma()};
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    list[count++] = {"neon", {adam_step_f32_neon, adam_step_bf16_neon, adam_step_q8_neon}, reduce_kernels_neon(), true};
#endif
    list[count++] = {"scalar", {adam_step_f32_scalar, adam_step_bf16_scalar, adam_step_q8_scalar}, reduce_kernels_scalar(), true};
  }
};

/* Built on first use, once: function-local statics are thread-safe (worker threads). */
const registry &the_registry() {
  static const registry r;
  return r;
}

}  // namespace

const simd_adam_backend *simd_adam_backends(size_t *count) {
  const registry &r = the_registry();
  *count = r.count;
  return r.list;
}

const simd_adam_backend *simd_adam_best(void) {
  const registry &r = the_registry();
  for (size_t i = 0; i < r.count; ++i)
    if (r.list[i].supported) return &r.list[i];
  return &r.list[r.count - 1];
}

const simd_adam_backend *simd_adam_find(const char *name) {
  const registry &r = the_registry();
  for (size_t i = 0; i < r.count; ++i)
    if (strcmp(r.list[i].name, name) == 0) return &r.list[i];
  return nullptr;
}
