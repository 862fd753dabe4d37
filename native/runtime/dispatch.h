/* Which kernels this build has and which of them this CPU can run, detected once. */
#ifndef SIMD_ADAM_DISPATCH_H
#define SIMD_ADAM_DISPATCH_H

#include <stddef.h>

#include "kernels/adam.h"
#include "kernels/reduce.h"
#include "segments.h"

typedef struct simd_adam_backend {
  const char *name;
  step_kernels step; /* one kernel per state format */
  const reduce_kernels *reduce; /* the same ISA's reductions: guard, explain, clipping */
  bool supported; /* this CPU and OS can run it */
} simd_adam_backend;

/* Every native backend compiled into this build, best first. */
const simd_adam_backend *simd_adam_backends(size_t *count);
/* The best backend this CPU supports (the scalar one at worst). */
const simd_adam_backend *simd_adam_best(void);
/* The backend of that name, or NULL if this build has none. */
const simd_adam_backend *simd_adam_find(const char *name);

#endif
