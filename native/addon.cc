/* Node-API glue. The TypeScript layer has already validated everything; this file turns the
 * step plan into pointers, re-checks only what would make memory unsafe (an index or range that
 * does not fit its buffer, a detached buffer), and runs the kernel. One crossing per step. */
#define NAPI_VERSION 8
#include <napi.h>

#include <cmath>
#include <vector>

#include "adam.h"
#include "addon_reduce.h"
#include "dispatch.h"
#include "plan_layout.h"

namespace {

/* Per-environment (main thread or worker): which backend this environment has chosen. */
struct instance {
  const simd_adam_backend *current = simd_adam_best();
};

struct span {
  char *data;
  size_t bytes;
};

struct segment {
  adam_tensor_f32 tensor;
  size_t n;
  adam_scalars_f32 scalars;
};

Napi::Value throw_internal(Napi::Env env, const char *message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INTERNAL"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

/* An ArrayBuffer, or (for SharedArrayBuffer, which Node-API 8 cannot read directly) a
 * Uint8Array over the whole buffer. A detached buffer reports no data and zero bytes. */
bool read_buffer(napi_env env, napi_value value, span *out) {
  bool is = false;
  void *data = nullptr;
  size_t bytes = 0;
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, value, &data, &bytes) != napi_ok) return false;
  } else if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length = 0;
    if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array)
      return false;
    bytes = length;
  } else {
    return false;
  }
  out->data = static_cast<char *>(data);
  out->bytes = data ? bytes : 0;
  return true;
}

bool read_f64_array(napi_env env, napi_value value, const double **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  void *raw = nullptr;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array)
    return false;
  *data = static_cast<const double *>(raw);
  return true;
}

/* Resolves (buffer index, element offset) for n floats; false if it does not fit. */
bool locate(const std::vector<span> &buffers, double index, double offset, size_t n, float **out) {
  if (!(index >= 0 && index < static_cast<double>(buffers.size()) && index == std::floor(index)))
    return false;
  if (!(offset >= 0 && offset == std::floor(offset) && offset <= 9007199254740992.0)) return false;
  const span &b = buffers[static_cast<size_t>(index)];
  const size_t start = static_cast<size_t>(offset);
  if (b.data == nullptr && n > 0) return false;
  if (start > b.bytes / sizeof(float) || n > b.bytes / sizeof(float) - start) return false;
  *out = reinterpret_cast<float *>(b.data) + start;
  return true;
}

/* step(buffers, table, scalars[, guardFlags, zeroReport]): see plan_layout.h for the rows and
 * guard.h for the optional read-only pre-pass, which may refuse the step before any write. */
Napi::Value Step(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const instance *self = env.GetInstanceData<instance>();
  if ((info.Length() != 3 && info.Length() != 5) || !info[0].IsArray()) return throw_internal(env, "step(buffers, table, scalars[, guardFlags, zeroReport]): bad arguments");

  napi_value list = info[0];
  uint32_t buffer_count = 0;
  napi_get_array_length(env, list, &buffer_count);
  std::vector<span> buffers(buffer_count);
  for (uint32_t i = 0; i < buffer_count; ++i) {
    napi_value item;
    if (napi_get_element(env, list, i, &item) != napi_ok || !read_buffer(env, item, &buffers[i]))
      return throw_internal(env, "step: buffers must be ArrayBuffers or Uint8Arrays");
  }

  const double *table = nullptr, *scalars = nullptr;
  size_t table_length = 0, scalars_length = 0;
  if (!read_f64_array(env, info[1], &table, &table_length) || !read_f64_array(env, info[2], &scalars, &scalars_length) ||
      table_length % PLAN_SEGMENT_STRIDE != 0 || scalars_length != table_length / PLAN_SEGMENT_STRIDE * PLAN_SCALARS_STRIDE)
    return throw_internal(env, "step: table and scalars must be Float64Arrays of matching row counts");

  const size_t count = table_length / PLAN_SEGMENT_STRIDE;
  std::vector<segment> segments(count);
  for (size_t k = 0; k < count; ++k) {
    const double *row = table + k * PLAN_SEGMENT_STRIDE;
    const double *sc = scalars + k * PLAN_SCALARS_STRIDE;
    segment &seg = segments[k];
    if (!(row[PLAN_LENGTH] >= 0 && row[PLAN_LENGTH] == std::floor(row[PLAN_LENGTH])))
      return throw_internal(env, "step: bad segment length");
    seg.n = static_cast<size_t>(row[PLAN_LENGTH]);
    seg.scalars = {static_cast<float>(sc[SCALAR_BETA1]), static_cast<float>(sc[SCALAR_ONE_MINUS_BETA1]),
                   static_cast<float>(sc[SCALAR_BETA2]), static_cast<float>(sc[SCALAR_ONE_MINUS_BETA2]),
                   static_cast<float>(sc[SCALAR_EPS]), static_cast<float>(sc[SCALAR_WEIGHT_DECAY]),
                   static_cast<float>(sc[SCALAR_DECAY_FACTOR]), static_cast<float>(sc[SCALAR_BIAS_CORRECTION2_SQRT]),
                   static_cast<float>(sc[SCALAR_NEG_STEP_SIZE]), static_cast<uint32_t>(sc[SCALAR_FLAGS])};
    float *grad = nullptr;
    bool ok = locate(buffers, row[PLAN_PARAM_BUFFER], row[PLAN_PARAM_OFFSET], seg.n, &seg.tensor.param) &&
              locate(buffers, row[PLAN_GRAD_BUFFER], row[PLAN_GRAD_OFFSET], seg.n, &grad) &&
              locate(buffers, row[PLAN_EXP_AVG_BUFFER], row[PLAN_EXP_AVG_OFFSET], seg.n, &seg.tensor.exp_avg) &&
              locate(buffers, row[PLAN_EXP_AVG_SQ_BUFFER], row[PLAN_EXP_AVG_SQ_OFFSET], seg.n, &seg.tensor.exp_avg_sq);
    seg.tensor.grad = grad;
    seg.tensor.max_exp_avg_sq = nullptr;
    if (ok && (seg.scalars.flags & ADAM_AMSGRAD))
      ok = locate(buffers, row[PLAN_MAX_EXP_AVG_SQ_BUFFER], row[PLAN_MAX_EXP_AVG_SQ_OFFSET], seg.n, &seg.tensor.max_exp_avg_sq);
    if (!ok) return throw_internal(env, "step: a segment does not fit its buffer (detached?)");
  }

  if (info.Length() == 5) {
    std::vector<guard_segment> views(count);
    for (size_t k = 0; k < count; ++k)
      views[k] = {segments[k].tensor.param, segments[k].tensor.grad, segments[k].tensor.exp_avg, segments[k].n};
    const Napi::Value stop = run_step_prepass(env, self->current->reduce, info[3], info[4], views);
    if (!stop.IsNull()) return stop;
  }

  for (const segment &seg : segments) self->current->step(&seg.tensor, seg.n, &seg.scalars);
  return env.Undefined();
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
  return Napi::String::New(info.Env(), info.Env().GetInstanceData<instance>()->current->name);
}

/* select(name): true if this build has the backend and the CPU supports it. */
Napi::Value Select(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return throw_internal(env, "select(name): name must be a string");
  const simd_adam_backend *found = simd_adam_find(info[0].As<Napi::String>().Utf8Value().c_str());
  if (found == nullptr || !found->supported) return Napi::Boolean::New(env, false);
  env.GetInstanceData<instance>()->current = found;
  return Napi::Boolean::New(env, true);
}

/* { segment: { LENGTH: 0, ..., STRIDE }, scalars: { BETA1: 0, ..., STRIDE }, flags: {...} } */
Napi::Object plan_layout_object(Napi::Env env) {
  Napi::Object segment = Napi::Object::New(env), scalars = Napi::Object::New(env), flags = Napi::Object::New(env);
#define SIMD_ADAM_EXPORT_PLAN(name) segment.Set(#name, static_cast<double>(PLAN_##name));
#define SIMD_ADAM_EXPORT_SCALAR(name) scalars.Set(#name, static_cast<double>(SCALAR_##name));
  SIMD_ADAM_SEGMENT_FIELDS(SIMD_ADAM_EXPORT_PLAN)
  SIMD_ADAM_SCALAR_FIELDS(SIMD_ADAM_EXPORT_SCALAR)
#undef SIMD_ADAM_EXPORT_PLAN
#undef SIMD_ADAM_EXPORT_SCALAR
  segment.Set("STRIDE", static_cast<double>(PLAN_SEGMENT_STRIDE));
  scalars.Set("STRIDE", static_cast<double>(PLAN_SCALARS_STRIDE));
  flags.Set("AMSGRAD", static_cast<double>(ADAM_AMSGRAD));
  flags.Set("MAXIMIZE", static_cast<double>(ADAM_MAXIMIZE));
  flags.Set("COUPLED_DECAY", static_cast<double>(ADAM_COUPLED_DECAY));
  flags.Set("DECOUPLED_DECAY", static_cast<double>(ADAM_DECOUPLED_DECAY));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("segment", segment);
  layout.Set("scalars", scalars);
  layout.Set("flags", flags);
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new instance());
  exports.Set("step", Napi::Function::New(env, Step, "step"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  exports.Set("current", Napi::Function::New(env, Current, "current"));
  exports.Set("select", Napi::Function::New(env, Select, "select"));
  exports.Set("planLayout", plan_layout_object(env));
  register_reduce_functions(env, exports, [](Napi::Env e) { return e.GetInstanceData<instance>()->current->reduce; });
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
