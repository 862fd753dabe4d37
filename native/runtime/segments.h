/* A step plan decoded into the unit of work: a list of segments, each a contiguous run of
 * elements with its pointers and float scalars. Decoding is pure (no Node-API) so that a
 * pre-pass over the grads (a guard) and the execution (thread_pool.h) can both take the
 * same list, on the main thread or off it. */
#ifndef SIMD_ADAM_PLAN_H
#define SIMD_ADAM_PLAN_H

#include <stddef.h>

#include <vector>

#include "claims.h"
#include "kernels/adam.h"
#include "kernels/adam_lowbit.h"

/* A buffer's memory as read on the main thread. A detached buffer has data NULL and 0 bytes. */
struct buffer_span {
  char *data;
  size_t bytes;
};

/* One backend's kernels, one per state format. */
struct step_kernels {
  adam_step_f32_fn f32;
  adam_step_bf16_fn bf16;
  adam_step_q8_fn q8;
};

/* `tensor` always holds the param and grad, and the moments of float32 state; bf16 and q8 hold
 * the moments of the other formats (STATE_BF16, STATE_Q8 of segment_table.h). */
struct step_segment {
  adam_tensor_f32 tensor;
  uint32_t format;
  adam_tensor_bf16 bf16;
  adam_tensor_q8 q8;
  size_t n;
  size_t scalars_row;
  adam_scalars_f32 scalars;
};

/* Resolves every row of `table` (see segment_table.h) against `buffers`. Returns NULL on success,
 * or why a row does not fit (an index or range outside its buffer, a detached buffer): those
 * would make memory unsafe, everything else was validated by the TypeScript layer. */
const char *decode_segments(const buffer_span *buffers, size_t buffer_count, const double *table, size_t rows,
                            std::vector<step_segment> *out);

/* Resolves (buffer index, element offset, length) of a float view, for the reductions' tables:
 * false if an index or range does not fit its buffer, or the buffer is detached. */
bool locate_view(const buffer_span *buffers, size_t count, double index, double offset, double n, float **out,
                 size_t *length);

/* Runs `kernels`' kernel for the segment's format over its elements [start, end); for 8-bit state
 * start must begin a block. */
void run_segment(const step_kernels *kernels, const step_segment &seg, size_t start, size_t end);

/* Rounds each scalars row to float once and gives every segment its row. Returns NULL on
 * success, or why not (a row index out of range, amsgrad flagged on a segment without
 * max_exp_avg_sq). */
const char *apply_scalars(const double *scalars, size_t scalar_rows, std::vector<step_segment> *segments);

/* The memory a step over `segments` reads (the grads) and writes (the rest), normalized. */
void segment_ranges(const std::vector<step_segment> &segments, std::vector<byte_range> *out);

/* The elements of all segments together. */
size_t total_elements(const std::vector<step_segment> &segments);

#endif
