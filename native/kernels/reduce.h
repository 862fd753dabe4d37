/* The reduction contract, C types only (same reason as adam.h): the read-only passes behind the
 * non-finite guard, explain()'s all-zero test and clipGradNorm. One set of kernels per ISA, all
 * from the bodies in reduce_body.h; reduce_kernels_<isa>() gives an ISA's set as a table. */
#ifndef SIMD_ADAM_REDUCE_H
#define SIMD_ADAM_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if every element is +0 or -0 (vacuously for n = 0), else 0. Stops at the first non-zero. */
typedef int (*all_zero_f32_fn)(const float *x, size_t n);
/* Index of the first NaN or ±Inf, or -1. */
typedef ptrdiff_t (*first_non_finite_f32_fn)(const float *x, size_t n);
/* Sum of x² (of |x|), accumulated in double: a float square is exact in double, so the only
 * error is the summation's, far below the 1e-5 that PyTorch parity needs even at 2^24 elements.
 * The order of the sum differs between ISAs, so results agree to rounding, not bit for bit. */
typedef double (*sum_sq_f32_fn)(const float *x, size_t n);
typedef double (*sum_abs_f32_fn)(const float *x, size_t n);
/* max |x|, NaN if any element is NaN (torch.max propagates NaN), 0 for n = 0. */
typedef float (*max_abs_f32_fn)(const float *x, size_t n);
/* x = x * factor in float, one rounding per element: bit-identical on every ISA. */
typedef void (*scale_f32_fn)(float *x, size_t n, float factor);

typedef struct reduce_kernels {
  all_zero_f32_fn all_zero;
  first_non_finite_f32_fn first_non_finite;
  sum_sq_f32_fn sum_sq;
  sum_abs_f32_fn sum_abs;
  max_abs_f32_fn max_abs;
  scale_f32_fn scale;
} reduce_kernels;

/* One ISA's reductions (reduce_body.h over its op struct). */
const reduce_kernels *reduce_kernels_scalar(void);
#if defined(__x86_64__) || defined(_M_X64)
const reduce_kernels *reduce_kernels_avx2(void);
const reduce_kernels *reduce_kernels_avx512(void);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const reduce_kernels *reduce_kernels_neon(void);
#endif

/* Sum of |x|^p in double for any other p > 0: pow per element, scalar on every backend (a
 * p-norm other than 1, 2 and inf is rare enough not to earn four vector versions). */
double sum_pow_abs_f32_scalar(const float *x, size_t n, double p);

#ifdef __cplusplus
}
#endif

#endif
