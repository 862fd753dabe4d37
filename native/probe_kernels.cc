/* Built with the kernels' flags (-O3, vectorized at the baseline ISA): at DRAM sizes even SSE2
 * moves far more bytes per cycle than memory delivers, so the probe measures memory, not code. */
#include "probe_kernels.h"

#include <string.h>

extern "C" void probe_traffic_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *) {
  uint32_t *__restrict p = reinterpret_cast<uint32_t *>(t->param);
  const uint32_t *__restrict g = reinterpret_cast<const uint32_t *>(t->grad);
  uint32_t *__restrict m = reinterpret_cast<uint32_t *>(t->exp_avg);
  uint32_t *__restrict v = reinterpret_cast<uint32_t *>(t->exp_avg_sq);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t pi = p[i], gi = g[i], mi = m[i], vi = v[i];
    p[i] = mi;
    m[i] = vi;
    v[i] = gi ^ pi;
  }
}

extern "C" void probe_triad_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  float *__restrict a = t->param;
  const float *__restrict b = t->grad;
  const float *__restrict c = t->exp_avg;
  const float scale = s->beta1;
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + scale * c[i];
}
