/* AVX-512F kernel, built with -mavx512f. */
#include "adam_body.h"
#include "ops_avx512.h"

extern "C" void adam_step_f32_avx512(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step<avx512_ops>(t, n, s);
}
