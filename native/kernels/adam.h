/* The kernel contract: plain C types only, so every ISA translation unit can include it
 * without pulling in inline C++ library code compiled with that ISA's flags (an inline library
 * function emitted as a weak symbol by an AVX-512 unit can end up serving baseline callers:
 * scripts/test-kernels.sh checks kernel objects for weak symbols). */
#ifndef SIMD_ADAM_ADAM_H
#define SIMD_ADAM_ADAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  ADAM_AMSGRAD = 1u << 0,
  ADAM_MAXIMIZE = 1u << 1,
  /* g = g + weight_decay * p. Skipped entirely (not multiplied by 0) when the flag is clear,
   * because 0 * Inf would turn a finite update into NaN where PyTorch leaves it alone. */
  ADAM_COUPLED_DECAY = 1u << 2,
  /* p = p * decay_factor before the update (AdamW). */
  ADAM_DECOUPLED_DECAY = 1u << 3,
};

/* Per-tensor scalars. The TypeScript layer computes them in double precision (bias corrections
 * with Math.pow, never by repeated multiplication) and they are rounded to float exactly once. */
typedef struct adam_scalars_f32 {
  float beta1;
  float one_minus_beta1;
  float beta2;
  float one_minus_beta2;
  float eps;
  float weight_decay;          /* used with ADAM_COUPLED_DECAY */
  float decay_factor;          /* 1 - lr * weight_decay, used with ADAM_DECOUPLED_DECAY */
  float bias_correction2_sqrt; /* sqrt(1 - beta2^step) */
  float neg_step_size;         /* -(lr / (1 - beta1^step)) */
  uint32_t flags;
} adam_scalars_f32;

/* One contiguous run of elements. Pointers need only 4-byte alignment: a Float32Array's
 * byteOffset is any multiple of 4. max_exp_avg_sq is NULL unless ADAM_AMSGRAD is set. */
typedef struct adam_tensor_f32 {
  float *param;
  const float *grad;
  float *exp_avg;
  float *exp_avg_sq;
  float *max_exp_avg_sq;
} adam_tensor_f32;

/* Updates elements [0, n) of t in place. Every kernel gives results bit-identical to the
 * scalar one and to the TypeScript reference: no fused multiply-add, no reassociation. */
typedef void (*adam_step_f32_fn)(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);

void adam_step_f32_scalar(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
#if defined(__x86_64__) || defined(_M_X64)
void adam_step_f32_avx2(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
void adam_step_f32_avx512(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void adam_step_f32_neon(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
#endif

#ifdef __cplusplus
}
#endif

#endif
