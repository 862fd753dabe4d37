/* AVX2 reductions, built with -mavx2 -mfma: the bodies of reduce_body.h over avx2_ops. */
#include "ops_avx2.h"
#include "reduce_body.h"

SIMD_ADAM_REDUCE_KERNELS(avx2, avx2_ops)
