/* The shipped addon's module: registration and the step entry points. The TypeScript layer has
 * already validated everything; a plan is decoded (runtime/segments.h) into a list of segments
 * and executed over the thread pool (runtime/thread_pool.h), on the main thread or off it
 * (step_async.h). One crossing per step. Only what would make memory unsafe is checked here. */
#include <napi.h>

#include <vector>

#include "kernels/adam.h"
#include "errors.h"
#include "exports.h"
#include "reduce_napi.h"
#include "runtime/dispatch.h"
#include "instance.h"
#include "runtime/segments.h"
#include "runtime/segment_table.h"
#include "prepared_plan.h"
#include "step_async.h"
#include "runtime/thread_pool.h"
#include "claims_napi.h"
#include "runtime/claims.h"

namespace {

/* What every refused claim says; TypeScript rewrites it with the caller's name (src/engine/claims.ts). */
const char *const BUSY = "the memory this step would read or write is in use by a running step";

/* The environment's backend; the best one if its state is already gone (never in practice). */
const simd_adam_backend *current_backend(napi_env env) {
  addon_instance *instance = instance_of(env);
  return instance ? instance->current : simd_adam_best();
}

const step_kernels *current_kernel(Napi::Env env) { return &current_backend(env)->step; }

/* Reads the scalars table into the plan's segments. */
const char *scalars_into(Napi::Env env, napi_value value, std::vector<step_segment> *segments) {
  const double *scalars = nullptr;
  size_t length = 0;
  if (!read_f64_array(env, value, &scalars, &length) || length % PLAN_SCALARS_STRIDE != 0)
    return "step: scalars must be a Float64Array of whole rows";
  return apply_scalars(scalars, length / PLAN_SCALARS_STRIDE, segments);
}

const reduce_kernels *current_reduce(Napi::Env env) { return current_backend(env)->reduce; }

/* The optional read-only pre-pass (runtime/guard.h) over the decoded segments, before any kernel
 * writes: Null to go on, else what the call must return ([segment, element] of the first
 * non-finite grad, or undefined with an exception pending). */
Napi::Value run_guard(Napi::Env env, const std::vector<step_segment> &segments, napi_value flags, napi_value report) {
  std::vector<guard_segment> views(segments.size());
  for (size_t k = 0; k < segments.size(); ++k)
    /* exp_avg NULL for reduced state: the TypeScript layer decides whether its codes are zero. */
    views[k] = {segments[k].tensor.param, segments[k].tensor.grad, segments[k].tensor.exp_avg, segments[k].n};
  return run_step_prepass(env, current_reduce(env), flags, report, views);
}

/* step(buffers, table, scalars[, guardFlags, zeroReport]): decodes and runs a plan once (see
 * runtime/segment_table.h), with the optional pre-pass, which may refuse the step before any write. */
Napi::Value Step(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 && info.Length() != 5) return throw_internal(env, "step(buffers, table, scalars[, guardFlags, zeroReport]): bad arguments");
  std::vector<buffer_span> buffers;
  if (!read_buffer_list(env, info[0], &buffers)) return throw_internal(env, "step: buffers must be ArrayBuffers or Uint8Arrays");
  const double *table = nullptr;
  size_t table_length = 0;
  if (!read_f64_array(env, info[1], &table, &table_length) || table_length % PLAN_SEGMENT_STRIDE != 0)
    return throw_internal(env, "step: the table must be a Float64Array of whole rows");
  std::vector<step_segment> segments;
  const char *error = decode_segments(buffers.data(), buffers.size(), table, table_length / PLAN_SEGMENT_STRIDE, &segments);
  if (!error) error = scalars_into(env, info[2], &segments);
  if (error) return throw_internal(env, error);
  std::vector<byte_range> ranges;
  segment_ranges(segments, &ranges);
  scoped_claim claim(&ranges);
  if (!claim.held()) return throw_busy(env, BUSY);
  if (info.Length() == 5) {
    const Napi::Value stop = run_guard(env, segments, info[3], info[4]);
    if (!stop.IsNull()) return stop;
  }
  execute_segments(segments.data(), segments.size(), current_kernel(env));
  return env.Undefined();
}

/* The plan behind `plan_value`, refreshed and given `scalars`; NULL after throwing. `checked`:
 * the caller compared every buffer's byteLength with the plan's just before this call, on this
 * thread (only the owning thread can detach or shrink an ArrayBuffer, and a SharedArrayBuffer
 * only grows), so the buffers' memory is where the plan found it and the per-buffer re-read,
 * about 50 ns a buffer, can be skipped. */
prepared_plan *ready_plan(Napi::Env env, napi_value plan_value, napi_value scalars, bool checked = false) {
  prepared_plan *plan = unwrap_plan(env, plan_value);
  const char *error = plan == nullptr                 ? "run(plan, scalars): not a plan"
                      : plan->busy                    ? "run: an asynchronous step is still running over this plan"
                      : checked && plan->resolved     ? nullptr
                                                      : refresh_plan(env, plan);
  if (!error) error = scalars_into(env, scalars, &plan->segments);
  if (error) {
    throw_internal(env, error);
    return nullptr;
  }
  return plan;
}

/* prepare(buffers, table[, scalars]) → plan, kept by the optimizer while its layout holds. With
 * scalars it also runs the step, so that a step that had to rebuild its plan still crosses once. */
Napi::Value Prepare(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const size_t argc = info.Length();
  if (argc != 2 && argc != 3 && argc != 5) return throw_internal(env, "prepare(buffers, table[, scalars[, guardFlags, zeroReport]]): bad arguments");
  const char *error = nullptr;
  napi_value plan = prepare_plan(env, info[0], info[1], &error);
  if (!plan) return throw_internal(env, error);
  Napi::Value stop = env.Null();
  if (argc >= 3) {
    prepared_plan *ready = ready_plan(env, plan, info[2]);
    if (!ready) return env.Undefined();
    scoped_claim claim(&ready->ranges);
    if (!claim.held()) return throw_busy(env, BUSY);
    if (argc == 5) stop = run_guard(env, ready->segments, info[3], info[4]);
    if (stop.IsUndefined()) return stop;
    if (stop.IsNull()) execute_segments(ready->segments.data(), ready->segments.size(), current_kernel(env));
  }
  if (argc != 5) return Napi::Value(env, plan);
  /* With a guard: [plan, null] when the step ran, [plan, [segment, element]] when refused. */
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Value(env, plan));
  out.Set(1u, stop);
  return out;
}

bool checked_flag(const Napi::CallbackInfo &info) { return info.Length() >= 3 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value(); }

/* run(plan, scalars[, checked[, guardFlags, zeroReport]]): one step over a prepared plan, on the
 * calling thread and the pool. With a guard, returns [segment, element] if it refused the step. */
Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || info.Length() > 5 || info.Length() == 4) return throw_internal(env, "run(plan, scalars[, checked[, guardFlags, zeroReport]]): bad arguments");
  prepared_plan *plan = ready_plan(env, info[0], info[1], checked_flag(info));
  if (!plan) return env.Undefined();
  scoped_claim claim(&plan->ranges);
  if (!claim.held()) return throw_busy(env, BUSY);
  if (info.Length() == 5) {
    const Napi::Value stop = run_guard(env, plan->segments, info[3], info[4]);
    if (!stop.IsNull()) return stop;
  }
  execute_segments(plan->segments.data(), plan->segments.size(), current_kernel(env));
  return env.Undefined();
}

/* Starts a step over `plan_value` off the event loop: a Promise<void>, or with a guard that refuses
 * the step, its [segment, element]; undefined after throwing. Without guard flags (nullptr) no
 * pre-pass runs. The read-only pre-pass runs here, on the calling thread, so that a
 * refused step starts nothing asynchronously. */
Napi::Value start_async(Napi::Env env, napi_value plan_value, napi_value scalars, bool checked, napi_value guard_flags,
                        napi_value zero_report) {
  prepared_plan *plan = ready_plan(env, plan_value, scalars, checked);
  addon_instance *instance = instance_of(env);
  if (!plan || !instance) return env.Undefined();
  /* Claimed before the pre-pass, so no one writes the grads between the check and the step. */
  const uint64_t claim = claims_acquire(&plan->ranges);
  if (!claim) return throw_busy(env, BUSY);
  if (guard_flags) {
    const Napi::Value stop = run_guard(env, plan->segments, guard_flags, zero_report);
    if (!stop.IsNull()) {
      claims_release(claim);
      return stop;
    }
  }
  const char *error = nullptr;
  napi_value promise = start_step_async(env, instance, plan_value, plan, &instance->current->step, claim, &error);
  if (!promise) return throw_internal(env, error);
  return Napi::Value(env, promise);
}

/* runAsync(plan, scalars[, checked[, guardFlags, zeroReport]]) → Promise<void> | [segment, element]. */
Napi::Value RunAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || info.Length() > 5 || info.Length() == 4) return throw_internal(env, "runAsync(plan, scalars[, checked[, guardFlags, zeroReport]]): bad arguments");
  const bool guarded = info.Length() == 5;
  return start_async(env, info[0], info[1], checked_flag(info), guarded ? napi_value(info[3]) : nullptr, guarded ? napi_value(info[4]) : nullptr);
}

/* prepareAsync(buffers, table, scalars[, guardFlags, zeroReport]) → [plan, what runAsync returns]:
 * a stepAsync that had to rebuild its plan still crosses once. */
Napi::Value PrepareAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 && info.Length() != 5) return throw_internal(env, "prepareAsync(buffers, table, scalars[, guardFlags, zeroReport]): bad arguments");
  const char *error = nullptr;
  napi_value plan = prepare_plan(env, info[0], info[1], &error);
  if (!plan) return throw_internal(env, error);
  const bool guarded = info.Length() == 5;
  const Napi::Value started = start_async(env, plan, info[2], false, guarded ? napi_value(info[3]) : nullptr, guarded ? napi_value(info[4]) : nullptr);
  if (started.IsUndefined()) return started;
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Value(env, plan));
  out.Set(1u, started);
  return out;
}

/* refreshGrads(plan, fixed, registry, from, column): the plan's grads move to `column` (per
 * segment: buffer index, element offset); its buffers become the first `fixed + from` it holds
 * and registry[from..] (read here, once each). See src/engine/grad_column.ts. */
Napi::Value RefreshGrads(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5 || !info[1].IsNumber() || !info[3].IsNumber())
    return throw_internal(env, "refreshGrads(plan, fixed, registry, from, column): bad arguments");
  prepared_plan *plan = unwrap_plan(env, info[0]);
  if (plan == nullptr) return throw_internal(env, "refreshGrads: not a plan");
  if (plan->busy) return throw_internal(env, "refreshGrads: an asynchronous step is still running over this plan");
  const double fixed = info[1].As<Napi::Number>().DoubleValue(), from = info[3].As<Napi::Number>().DoubleValue();
  if (!(fixed >= 0 && from >= 0 && fixed + from <= 4294967295.0) || fixed != static_cast<double>(static_cast<uint32_t>(fixed)) ||
      from != static_cast<double>(static_cast<uint32_t>(from)))
    return throw_internal(env, "refreshGrads: bad buffer counts");
  const double *column = nullptr;
  size_t length = 0;
  if (!read_f64_array(env, info[4], &column, &length)) return throw_internal(env, "refreshGrads: the column must be a Float64Array");
  const char *error = refresh_grads(env, plan, static_cast<size_t>(fixed + from), info[2], static_cast<uint32_t>(from), column, length);
  if (error) return throw_internal(env, error);
  return env.Undefined();
}

/* An integer in [min, max] at `value`, or false: checked before anything is changed. */
bool read_count(napi_env env, napi_value value, double min, double max, size_t *out) {
  napi_valuetype type;
  double n = 0;
  if (value == nullptr || napi_typeof(env, value, &type) != napi_ok || type != napi_number || napi_get_value_double(env, value, &n) != napi_ok)
    return false;
  if (!(n >= min && n <= max && n == static_cast<double>(static_cast<size_t>(n)))) return false;
  *out = static_cast<size_t>(n);
  return true;
}

/* setNumThreads(n), an integer from 1 to 1024. */
Napi::Value SetNumThreads(const Napi::CallbackInfo &info) {
  size_t n = 0;
  if (info.Length() != 1 || !read_count(info.Env(), info[0], 1, 1024, &n))
    return throw_internal(info.Env(), "setNumThreads(n): n must be an integer from 1 to 1024");
  pool_set_threads(n);
  return info.Env().Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(pool_threads()));
}

/* tuning({ chunkElements?, parallelMin? }): for tests that vary the cut (0 = default). */
Napi::Value Tuning(const Napi::CallbackInfo &info) {
  napi_env env = info.Env();
  const char *const bad = "tuning({ chunkElements?, parallelMin? }): each must be an integer from 0 to 2^32 - 1";
  napi_valuetype type;
  if (info.Length() != 1 || napi_typeof(env, info[0], &type) != napi_ok || type != napi_object) return throw_internal(env, bad);
  const char *const keys[2] = {"chunkElements", "parallelMin"};
  bool present[2] = {false, false};
  size_t values[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    napi_value value;
    napi_valuetype kind;
    if (napi_get_named_property(env, info[0], keys[k], &value) != napi_ok || napi_typeof(env, value, &kind) != napi_ok)
      return throw_internal(env, bad);
    present[k] = kind != napi_undefined;
    if (present[k] && !read_count(env, value, 0, 4294967295.0, &values[k])) return throw_internal(env, bad);
  }
  /* Both read and checked: now apply. */
  if (present[0]) pool_set_chunk_elements(values[0]);
  if (present[1]) pool_set_parallel_min(values[1]);
  return info.Env().Undefined();
}

/* alignment(buffer) → the buffer's address modulo 64, so arenas can match cache lines. */
Napi::Value Alignment(const Napi::CallbackInfo &info) {
  buffer_span span = {nullptr, 0};
  if (info.Length() != 1 || !read_buffer(info.Env(), info[0], &span)) return throw_internal(info.Env(), "alignment(buffer): not a buffer");
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(span.data) % 64));
}

/* backends(): [{ name, supported }] best first. */
Napi::Value Backends(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  size_t count = 0;
  const simd_adam_backend *list = simd_adam_backends(&count);
  Napi::Array out = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", list[i].name);
    entry.Set("supported", list[i].supported);
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

Napi::Value Current(const Napi::CallbackInfo &info) {
  addon_instance *instance = instance_of(info.Env());
  if (!instance) return info.Env().Undefined();
  return Napi::String::New(info.Env(), instance->current->name);
}

/* { segment: { LENGTH: 0, ..., STRIDE }, scalars: { BETA1: 0, ..., STRIDE }, flags: {...},
 *   formats: { F32, BF16, Q8 } } */
Napi::Object plan_layout_object(Napi::Env env) {
  Napi::Object segment = Napi::Object::New(env), scalars = Napi::Object::New(env);
  const Napi::Object flags = number_table(env, {{"AMSGRAD", ADAM_AMSGRAD}, {"MAXIMIZE", ADAM_MAXIMIZE},
                                                {"COUPLED_DECAY", ADAM_COUPLED_DECAY}, {"DECOUPLED_DECAY", ADAM_DECOUPLED_DECAY}});
  const Napi::Object formats = number_table(env, {{"F32", STATE_F32}, {"BF16", STATE_BF16}, {"Q8", STATE_Q8}});
#define SIMD_ADAM_EXPORT_PLAN(name) segment.Set(#name, static_cast<double>(PLAN_##name));
#define SIMD_ADAM_EXPORT_SCALAR(name) scalars.Set(#name, static_cast<double>(SCALAR_##name));
  SIMD_ADAM_SEGMENT_FIELDS(SIMD_ADAM_EXPORT_PLAN)
  SIMD_ADAM_SCALAR_FIELDS(SIMD_ADAM_EXPORT_SCALAR)
#undef SIMD_ADAM_EXPORT_PLAN
#undef SIMD_ADAM_EXPORT_SCALAR
  segment.Set("STRIDE", static_cast<double>(PLAN_SEGMENT_STRIDE));
  scalars.Set("STRIDE", static_cast<double>(PLAN_SCALARS_STRIDE));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("segment", segment);
  layout.Set("scalars", scalars);
  layout.Set("flags", flags);
  layout.Set("formats", formats);
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!export_functions(env, exports, "simd-adam: could not set up the addon's per-environment state",
                        {{"step", Step}, {"prepare", Prepare}, {"run", Run}, {"runAsync", RunAsync},
                         {"prepareAsync", PrepareAsync}, {"refreshGrads", RefreshGrads}, {"setNumThreads", SetNumThreads},
                         {"numThreads", NumThreads}, {"tuning", Tuning}, {"alignment", Alignment}, {"backends", Backends},
                         {"current", Current}, {"select", select_backend}}))
    return exports;
  exports.Set("planLayout", plan_layout_object(env));
  register_reduce_functions(env, exports, current_reduce);
  register_claim_functions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
