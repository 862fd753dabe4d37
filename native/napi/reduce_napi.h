/* Node-API glue for the reductions and the step pre-pass. module.cc registers these with one
 * call from Init and calls run_step_prepass from Step. */
#ifndef SIMD_ADAM_ADDON_REDUCE_H
#define SIMD_ADAM_ADDON_REDUCE_H

#include <napi.h>

#include <vector>

#include "runtime/guard.h"
#include "kernels/reduce.h"

/* The reductions of the backend this environment has selected. */
typedef const reduce_kernels *(*current_reduce_fn)(Napi::Env env);

/* Adds allZero, reduce, scale and reduceLayout to the addon's exports. */
void register_reduce_functions(Napi::Env env, Napi::Object exports, current_reduce_fn current);

/* Step's optional (guardFlags, zeroReport) arguments. Returns Null when the step may run;
 * otherwise the value Step must return: [segment, element] of the first non-finite grad, or
 * undefined with an exception pending. */
Napi::Value run_step_prepass(Napi::Env env, const reduce_kernels *k, napi_value flags, napi_value report,
                             const std::vector<guard_segment> &segments);

#endif
