/* Built with the kernels' flags (-O3, baseline ISA); the traffic probe has AVX2 and AVX-512
 * variants chosen at run time, so that it is never slower than the kernel it bounds. */
#include "probe_kernels.h"

#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

/* The kernels prefetch their streams 1024 elements ahead (adam_body.h, adam_q8_body.h); a
 * roofline without would be slower than the kernel it bounds. Written out in each loop: GCC
 * deletes the calls of a function of prefetches alone. */
constexpr size_t AHEAD = 1024;

void traffic_tail(const adam_tensor_f32 *t, size_t i, size_t n) {
  uint32_t *__restrict p = reinterpret_cast<uint32_t *>(t->param);
  const uint32_t *__restrict g = reinterpret_cast<const uint32_t *>(t->grad);
  uint32_t *__restrict m = reinterpret_cast<uint32_t *>(t->exp_avg);
  uint32_t *__restrict v = reinterpret_cast<uint32_t *>(t->exp_avg_sq);
  for (; i < n; ++i) {
    const uint32_t pi = p[i], gi = g[i], mi = m[i], vi = v[i];
    p[i] = mi;
    m[i] = vi;
    v[i] = gi ^ pi;
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
/* The roofline must move bytes at least as well as the best Adam kernel does, so it gets the
 * same vector width: function-level target attributes, picked at run time. Plain loads, stores
 * and an integer xor: no library code that could leak as a weak symbol. */
__attribute__((target("avx512f"))) void traffic_avx512(const adam_tensor_f32 *t, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __builtin_prefetch(t->param + i + AHEAD, 1, 3);
    __builtin_prefetch(t->grad + i + AHEAD, 0, 3);
    __builtin_prefetch(t->exp_avg + i + AHEAD, 1, 3);
    __builtin_prefetch(t->exp_avg_sq + i + AHEAD, 1, 3);
    const __m512i p = _mm512_loadu_si512(t->param + i), g = _mm512_loadu_si512(t->grad + i);
    const __m512i m = _mm512_loadu_si512(t->exp_avg + i), v = _mm512_loadu_si512(t->exp_avg_sq + i);
    _mm512_storeu_si512(t->param + i, m);
    _mm512_storeu_si512(t->exp_avg + i, v);
    _mm512_storeu_si512(t->exp_avg_sq + i, _mm512_xor_si512(g, p));
  }
  traffic_tail(t, i, n);
}

__attribute__((target("avx2"))) void traffic_avx2(const adam_tensor_f32 *t, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __builtin_prefetch(t->param + i + AHEAD, 1, 3);
    __builtin_prefetch(t->grad + i + AHEAD, 0, 3);
    __builtin_prefetch(t->exp_avg + i + AHEAD, 1, 3);
    __builtin_prefetch(t->exp_avg_sq + i + AHEAD, 1, 3);
    const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(t->param + i));
    const __m256i g = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(t->grad + i));
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(t->exp_avg + i));
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(t->exp_avg_sq + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(t->param + i), m);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(t->exp_avg + i), v);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(t->exp_avg_sq + i), _mm256_xor_si256(g, p));
  }
  traffic_tail(t, i, n);
}

/* The traffic of state whose moments are T (bfloat16 bits, 8-bit codes), 16 elements at a time:
 * the parameter and grad read and the parameter written, both moments read and written. */
template <class T>
__attribute__((target("avx512f"))) size_t traffic_narrow_avx512(const adam_tensor_f32 *t, size_t n) {
  T *m = reinterpret_cast<T *>(t->exp_avg), *v = reinterpret_cast<T *>(t->exp_avg_sq);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __builtin_prefetch(t->param + i + AHEAD, 1, 3);
    __builtin_prefetch(t->grad + i + AHEAD, 0, 3);
    __builtin_prefetch(m + i + AHEAD, 1, 3);
    __builtin_prefetch(v + i + AHEAD, 1, 3);
    const __m512i p = _mm512_loadu_si512(t->param + i), g = _mm512_loadu_si512(t->grad + i);
    T mi[16], vi[16];
    __builtin_memcpy(mi, m + i, sizeof mi);
    __builtin_memcpy(vi, v + i, sizeof vi);
    _mm512_storeu_si512(t->param + i, _mm512_xor_si512(g, p));
    __builtin_memcpy(m + i, vi, sizeof vi);
    __builtin_memcpy(v + i, mi, sizeof mi);
  }
  return i;
}

int traffic_level() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
}
#endif

template <class T>
void traffic_narrow(const adam_tensor_f32 *t, size_t n) {
  size_t i = 0;
#if defined(__GNUC__) && defined(__x86_64__)
  static const int level = traffic_level();
  if (level == 2) i = traffic_narrow_avx512<T>(t, n);
#endif
  uint32_t *p = reinterpret_cast<uint32_t *>(t->param);
  const uint32_t *g = reinterpret_cast<const uint32_t *>(t->grad);
  T *m = reinterpret_cast<T *>(t->exp_avg), *v = reinterpret_cast<T *>(t->exp_avg_sq);
  for (; i < n; ++i) {
    const T mi = m[i];
    p[i] ^= g[i];
    m[i] = v[i];
    v[i] = mi;
  }
}

}  // namespace

extern "C" void probe_traffic_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *) {
#if defined(__GNUC__) && defined(__x86_64__)
  static const int level = traffic_level();
  if (level == 2) return traffic_avx512(t, n);
  if (level == 1) return traffic_avx2(t, n);
#endif
  traffic_tail(t, 0, n);
}

extern "C" void probe_traffic_bf16(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *) {
  traffic_narrow<uint16_t>(t, n);
}

extern "C" void probe_traffic_q8(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *) {
  traffic_narrow<uint8_t>(t, n);
  probe_traffic_q8_scales(t, n);
}

extern "C" void probe_traffic_q8_scales(const adam_tensor_f32 *t, size_t n) {
  /* One float per 256 elements per moment, after the codes, read and written. */
  uint32_t *sm = reinterpret_cast<uint32_t *>(t->exp_avg + (n + 3) / 4), *sv = reinterpret_cast<uint32_t *>(t->exp_avg_sq + (n + 3) / 4);
  for (size_t b = 0; b < (n + 255) / 256; ++b) {
    const uint32_t x = sm[b];
    sm[b] = sv[b];
    sv[b] = x;
  }
}

extern "C" void probe_triad_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  float *__restrict a = t->param;
  const float *__restrict b = t->grad;
  const float *__restrict c = t->exp_avg;
  const float scale = s->beta1;
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + scale * c[i];
}
