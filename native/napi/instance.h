/* Per-environment (main thread or worker) state of the addon: which backend it has chosen, the
 * asynchronous steps it has running, and the claims (runtime/claims.h) its JS code holds.
 *
 * Termination: a worker's environment may be torn down while a step it started runs on a libuv
 * thread. Node waits for queued work before it frees the environment, but the addon does not
 * rely on it: the cleanup hook (registered at load, so it runs before Node-API's own teardown,
 * hooks running last-in first-out) blocks until no step of this environment is executing,
 * before the environment's buffers and the plans wrapping them can be freed. Claims the
 * environment's JS still held are released when it goes, and the module stays mapped when the
 * last environment that loaded it is torn down (pin_module). */
#ifndef SIMD_ADAM_INSTANCE_H
#define SIMD_ADAM_INSTANCE_H

#include <node_api.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/claims.h"
#include "runtime/dispatch.h"

struct addon_instance {
  const simd_adam_backend *current = simd_adam_best();

  /* Asynchronous steps queued or executing, not yet past their execute callback. */
  std::mutex async_lock;
  std::condition_variable async_idle;
  size_t async_executing = 0;

  /* Claims taken by JS (claim()/release()), with the ranges they point to. */
  std::map<uint64_t, std::unique_ptr<std::vector<byte_range>>> js_claims;

  void async_started() {
    std::lock_guard<std::mutex> hold(async_lock);
    ++async_executing;
  }
  void async_executed() {
    {
      std::lock_guard<std::mutex> hold(async_lock);
      --async_executing;
    }
    async_idle.notify_all();
  }
  void wait_async_idle() {
    std::unique_lock<std::mutex> hold(async_lock);
    async_idle.wait(hold, [this] { return async_executing == 0; });
  }

  ~addon_instance() {
    for (auto &claim : js_claims) claims_release(claim.first);
  }
};

/* The environment's state, through the C API, which reports a failure instead of throwing it into
 * an environment that is shutting down. NULL then, with nothing thrown: no one is left to tell. */
inline addon_instance *instance_of(napi_env env) {
  void *data = nullptr;
  return napi_get_instance_data(env, &data) == napi_ok ? static_cast<addon_instance *>(data) : nullptr;
}

/* Keeps this shared object mapped until the process exits. Node unloads an addon (dlclose) when
 * the last environment that loaded it goes: a worker that was the only one to load simd-adam,
 * terminated. The thread pool is per process and never joined (thread_pool.cc), so its idle
 * threads would then return into unmapped code (a SIGSEGV at an address equal to the pc, which
 * the termination suite found). Pinning the module is the usual answer; the pool threads cost
 * nothing while idle. */
inline void pin_module() {
  static std::atomic<bool> pinned{false};
  if (pinned.exchange(true)) return;
#if defined(_WIN32)
  HMODULE self = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(&pin_module), &self);
#else
  Dl_info info;
  /* RTLD_NOLOAD: no second load, only the flags of the loaded object change (NODELETE). */
  if (dladdr(reinterpret_cast<void *>(&pin_module), &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#endif
}

/* Installs a fresh instance as the environment's instance data, with the cleanup hook above.
 * False if Node-API refused (the environment is going away). */
inline bool install_instance(napi_env env) {
  pin_module();
  addon_instance *instance = new addon_instance();
  auto finalize = [](napi_env, void *data, void *) { delete static_cast<addon_instance *>(data); };
  if (napi_set_instance_data(env, instance, finalize, nullptr) != napi_ok) {
    delete instance;
    return false;
  }
  auto drain = [](void *data) { static_cast<addon_instance *>(data)->wait_async_idle(); };
  return napi_add_env_cleanup_hook(env, drain, instance) == napi_ok;
}

#endif
