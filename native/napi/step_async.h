/* A step off the event loop: the plan's segments run on a libuv worker (which drives the thread
 * pool like any caller), and a promise settles on the main thread when they are done. */
#ifndef SIMD_ADAM_STEP_ASYNC_H
#define SIMD_ADAM_STEP_ASYNC_H

#include <node_api.h>

#include "instance.h"
#include "kernels/adam.h"
#include "prepared_plan.h"

/* `plan` must be refreshed and have its scalars applied; `claim` is the claim (runtime/claims.h)
 * over plan->ranges, which the step now owns and releases when it settles. Holds a strong
 * reference to `plan_value` (and through it every buffer) until then. Returns the promise, or
 * NULL with *error set and the claim released: nothing was started, nothing is left behind. */
napi_value start_step_async(napi_env env, addon_instance *instance, napi_value plan_value, prepared_plan *plan,
                            const step_kernels *kernel, uint64_t claim, const char **error);

#endif
