/* AVX-512F reductions, built with -mavx512f: the bodies of reduce_body.h over avx512_ops. */
#include "ops_avx512.h"
#include "reduce_body.h"

SIMD_ADAM_REDUCE_KERNELS(avx512, avx512_ops)
