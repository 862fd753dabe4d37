/* Executes a decoded step over a persistent pool of native threads. Large steps are cut into
 * chunks that threads take in turn; small ones stay on the calling thread. Every element is
 * updated by exactly one kernel call whatever the cut, and the kernels are elementwise, so the
 * result is bit-identical for any thread count or chunk size. */
#ifndef SIMD_ADAM_THREAD_POOL_H
#define SIMD_ADAM_THREAD_POOL_H

#include <stddef.h>

#include "kernels/adam.h"
#include "segments.h"

/* Threads a step may use, the calling thread included (>= 1). Waits for a step in progress.
 * Workers are started on the first step that needs them, never per step. */
void pool_set_threads(size_t n);
size_t pool_threads(void);

/* Elements per chunk; 0 restores the default (about 64 chunks per thread). Tests use it to show
 * that chunking does not change results. */
void pool_set_chunk_elements(size_t n);
/* Steps smaller than this stay on the calling thread; 0 restores the default. */
void pool_set_parallel_min(size_t n);

/* Runs each segment with `kernels`' kernel for its state format. 8-bit segments are cut only on
 * block boundaries, so every block is quantized whole by one kernel call. Safe to call from any thread; if another step holds the
 * pool, this one runs on the calling thread alone. */
void execute_segments(const step_segment *segments, size_t count, const step_kernels *kernels);

#endif
