/* Per-environment (main thread or worker) state of the addon: which backend it has chosen, the
 * asynchronous steps it has running, and the claims (runtime/claims.h) its JS code holds.
 *
 * Termination: a worker's environment may be torn down while a step it started runs on a libuv
 * thread. Node waits for queued work before it frees the environment, but the addon does not
 * rely on it: the cleanup hook (registered at load, so it runs before Node-API's own teardown,
 * hooks running last-in first-out) blocks until no step of this environment is executing,
 * before the environment's buffers and the plans wrapping them can be freed. Claims the
 * environment's JS still held are released when it goes. */
#ifndef SIMD_ADAM_INSTANCE_H
#define SIMD_ADAM_INSTANCE_H

#include <node_api.h>

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

/* Installs a fresh instance as the environment's instance data, with the cleanup hook above.
 * False if Node-API refused (the environment is going away). */
inline bool install_instance(napi_env env) {
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
