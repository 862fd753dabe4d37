/* The benchmark addon (simd_adam_bench.node), never shipped: the roofline probes over the same
 * kernels, dispatch and thread pool as the shipped addon, built from the same sources. It has
 * its own pool and backend choice, so bench/ mirrors the shipped addon's settings into it. */
#include <napi.h>

#include "napi/errors.h"
#include "napi/instance.h"
#include "probe.h"
#include "runtime/dispatch.h"
#include "runtime/thread_pool.h"

namespace {

/* select(name): true if this build has the backend and the CPU supports it. */
Napi::Value Select(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return throw_internal(env, "select(name): name must be a string");
  const simd_adam_backend *found = simd_adam_find(info[0].As<Napi::String>().Utf8Value().c_str());
  if (found == nullptr || !found->supported) return Napi::Boolean::New(env, false);
  addon_instance *instance = instance_of(env);
  if (!instance) return env.Undefined();
  instance->current = found;
  return Napi::Boolean::New(env, true);
}

/* setNumThreads(n), 1 <= n <= 1024. */
Napi::Value SetNumThreads(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const double n = info.Length() == 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(n >= 1 && n <= 1024 && n == static_cast<double>(static_cast<size_t>(n)))) return throw_internal(env, "setNumThreads(n): n must be a number from 1 to 1024");
  pool_set_threads(static_cast<size_t>(n));
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!install_instance(env)) {
    throw_internal(env, "simd_adam_bench: could not set up the addon's per-environment state");
    return exports;
  }
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("probePlan", Napi::Function::New(env, ProbePlan, "probePlan"));
  exports.Set("select", Napi::Function::New(env, Select, "select"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
