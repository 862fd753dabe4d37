/* Benchmark probes (bench/ only): the bare kernel, and kernels with Adam's memory traffic but no
 * math, timed natively over the same thread pool as a step, to give the roofline a step is
 * judged against. */
#ifndef SIMD_ADAM_PROBE_H
#define SIMD_ADAM_PROBE_H

#include <napi.h>

/* probe(kind, param, grad, expAvg, expAvgSq, reps, parallel) → Float64Array of ns per rep.
 * kind: 'adam' (the selected kernel, bias-corrected scalars of step 1), 'traffic' (read 4 arrays,
 * write 3, no math: 28 bytes/element), 'triad' (STREAM: param = grad + s·expAvg). */
Napi::Value Probe(const Napi::CallbackInfo &info);

/* probePlan(kind, buffers, table, reps, parallel) → Float64Array of ns per rep: the same, over
 * the segments of a step plan (runtime/segment_table.h), so that the roofline of many tensors in separate
 * buffers is measured over exactly their memory layout. */
Napi::Value ProbePlan(const Napi::CallbackInfo &info);

#endif
