/* The benchmark addon (simd_adam_bench.node), never shipped: the roofline probes over the same
 * kernels, dispatch and thread pool as the shipped addon, built from the same sources. It has
 * its own pool and backend choice, so bench/ mirrors the shipped addon's settings into it. */
#include <napi.h>

#include "napi/errors.h"
#include "napi/exports.h"
#include "napi/instance.h"
#include "probe.h"
#include "runtime/dispatch.h"
#include "runtime/thread_pool.h"

namespace {

/* setNumThreads(n), 1 <= n <= 1024. */
Napi::Value SetNumThreads(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const double n = info.Length() == 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(n >= 1 && n <= 1024 && n == static_cast<double>(static_cast<size_t>(n)))) return throw_internal(env, "setNumThreads(n): n must be a number from 1 to 1024");
  pool_set_threads(static_cast<size_t>(n));
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, "simd_adam_bench: could not set up the addon's per-environment state",
                   {{"probe", Probe}, {"probePlan", ProbePlan}, {"select", select_backend}, {"setNumThreads", SetNumThreads}});
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
