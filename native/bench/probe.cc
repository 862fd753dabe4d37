#include "probe.h"

#include <chrono>
#include <string>
#include <vector>

#include "runtime/dispatch.h"
#include "napi/instance.h"
#include "probe_kernels.h"
#include "runtime/segments.h"
#include "runtime/segment_table.h"
#include "napi/prepared_plan.h"
#include "runtime/thread_pool.h"

namespace {

/* NULL unless v is a Float32Array (the probes write through it). */
float *floats(const Napi::Value &v, size_t *n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) return nullptr;
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  *n = a.ElementLength();
  return a.Data();
}

bool is_count(const Napi::Value &v) { return v.IsNumber() && v.As<Napi::Number>().DoubleValue() >= 1 && v.As<Napi::Number>().DoubleValue() <= 1e6; }

}  // namespace

Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7 || !info[0].IsString() || !is_count(info[5])) {
    Napi::TypeError::New(env, "probe(kind, param, grad, expAvg, expAvgSq, reps, parallel)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  size_t n = 0, ng = 0, nm = 0, nv = 0;
  step_segment seg = {};
  seg.tensor.param = floats(info[1], &n);
  seg.tensor.grad = floats(info[2], &ng);
  seg.tensor.exp_avg = floats(info[3], &nm);
  seg.tensor.exp_avg_sq = floats(info[4], &nv);
  seg.n = n;
  if (!seg.tensor.param || !seg.tensor.grad || !seg.tensor.exp_avg || !seg.tensor.exp_avg_sq || ng != n || nm != n || nv != n) {
    Napi::TypeError::New(env, "probe: param, grad, expAvg and expAvgSq must be Float32Arrays of one length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t reps = info[5].As<Napi::Number>().Uint32Value();
  const bool parallel = info[6].ToBoolean();
  /* Step 1 of Adam(lr=1e-3): realistic values, and no denormals from the probes. */
  seg.scalars = {0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.f, 1.f, 0.0316227766f, -0.01f, 0};
  adam_step_f32_fn kernel = nullptr;
  addon_instance *instance = instance_of(env);
  if (instance == nullptr) return env.Undefined();
  if (kind == "adam") kernel = instance->current->step.f32;
  else if (kind == "traffic") kernel = probe_traffic_f32;
  else if (kind == "traffic-bf16") kernel = probe_traffic_bf16;
  else if (kind == "traffic-q8") kernel = probe_traffic_q8;
  else if (kind == "triad") kernel = probe_triad_f32;
#ifdef SIMD_ADAM_PROBE_AVX512
  else if (kind == "update-q8" && __builtin_cpu_supports("avx512f")) kernel = probe_update_q8_avx512;
#endif
  else {
    Napi::RangeError::New(env, "probe: kind must be adam, traffic, traffic-bf16, traffic-q8, triad or (x86-64 with AVX-512F) update-q8")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const step_kernels kernels = {kernel, nullptr, nullptr};
  Napi::Float64Array out = Napi::Float64Array::New(env, reps);
  if (out.IsEmpty() || out.Data() == nullptr) return env.Undefined(); /* the environment is going away */
  for (size_t r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    if (parallel) execute_segments(&seg, 1, &kernels);
    else kernel(&seg.tensor, seg.n, &seg.scalars);
    const auto end = std::chrono::steady_clock::now();
    out[r] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return out;
}

Napi::Value ProbePlan(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<buffer_span> buffers;
  const double *table = nullptr;
  size_t length = 0;
  std::vector<step_segment> segments;
  const std::string kind = info.Length() == 5 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  /* 'adam' runs each segment with the current backend's kernel for its state format. */
  addon_instance *instance = instance_of(env);
  if (instance == nullptr) return env.Undefined();
  const step_kernels adam = instance->current->step;
  adam_step_f32_fn kernel = kind == "adam" ? adam.f32 : kind == "traffic" ? probe_traffic_f32 : nullptr;
  if (kernel == nullptr || !is_count(info[3]) || !read_buffer_list(env, info[1], &buffers) || !read_f64_array(env, info[2], &table, &length) ||
      length % PLAN_SEGMENT_STRIDE != 0 ||
      decode_segments(buffers.data(), buffers.size(), table, length / PLAN_SEGMENT_STRIDE, &segments) != nullptr) {
    Napi::TypeError::New(env, "probePlan(kind: 'adam' | 'traffic', buffers, table, reps, parallel)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const adam_scalars_f32 scalars = {0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.f, 1.f, 0.0316227766f, -0.01f, 0};
  for (step_segment &seg : segments) {
    seg.scalars = scalars;
    seg.tensor.max_exp_avg_sq = nullptr;
  }
  const size_t reps = info[3].As<Napi::Number>().Uint32Value();
  const bool parallel = info[4].ToBoolean();
  const step_kernels kernels = kind == "adam" ? adam : step_kernels{kernel, nullptr, nullptr};
  Napi::Float64Array out = Napi::Float64Array::New(env, reps);
  if (out.IsEmpty() || out.Data() == nullptr) return env.Undefined(); /* the environment is going away */
  for (size_t r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    if (parallel) execute_segments(segments.data(), segments.size(), &kernels);
    else
      for (const step_segment &seg : segments) run_segment(&kernels, seg, 0, seg.n);
    const auto end = std::chrono::steady_clock::now();
    out[r] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return out;
}
