/* AVX2 kernel (dispatched on CPUs with AVX2 and FMA, x86-64-v3; built with -mavx2 -mfma, it does
 * not fuse: see adam_body.h). */
#include "adam_body.h"
#include "ops_avx2.h"

extern "C" void adam_step_f32_avx2(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step<avx2_ops>(t, n, s);
}
