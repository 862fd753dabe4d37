#include "step_async.h"

#include "runtime/thread_pool.h"

namespace {

struct async_step {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keep_alive = nullptr;
  prepared_plan *plan = nullptr;
  addon_instance *instance = nullptr;
  const step_kernels *kernel = nullptr;
  uint64_t claim = 0;
  bool executed = false;
};

/* On a libuv worker: no Node-API here, only the plan's raw pointers. */
void execute(napi_env, void *data) {
  async_step *job = static_cast<async_step *>(data);
  execute_segments(job->plan->segments.data(), job->plan->segments.size(), job->kernel);
  job->executed = true;
  job->instance->async_executed();
}

/* The plan's buffer references are weak between steps (prepared_plan.h): strong while one runs. */
bool hold_buffers(napi_env env, prepared_plan *plan, bool hold) {
  bool ok = true;
  for (napi_ref ref : plan->buffers) {
    uint32_t count = 0;
    ok = (hold ? napi_reference_ref(env, ref, &count) : napi_reference_unref(env, ref, &count)) == napi_ok && ok;
  }
  return ok;
}

/* Everything a job holds, whatever happened. Node-API calls may fail here when the environment
 * is shutting down (the promise then has no one to tell): their statuses only decide nothing. */
void release_job(napi_env env, async_step *job, bool buffers_held) {
  if (job->claim) claims_release(job->claim);
  job->plan->busy = false;
  if (buffers_held) hold_buffers(env, job->plan, false);
  if (job->keep_alive) napi_delete_reference(env, job->keep_alive);
  if (job->work) napi_delete_async_work(env, job->work);
  delete job;
}

void reject_with(napi_env env, napi_deferred deferred, const char *message) {
  napi_value text, error;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_error(env, nullptr, text, &error) == napi_ok)
    napi_reject_deferred(env, deferred, error);
}

void complete(napi_env env, napi_status status, void *data) {
  async_step *job = static_cast<async_step *>(data);
  /* Cancelled before it ran (the environment is going away): it never reached execute. */
  if (!job->executed) job->instance->async_executed();
  const napi_deferred deferred = job->deferred;
  release_job(env, job, true);
  napi_value undefined;
  if (status == napi_ok && napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, deferred, undefined);
  else reject_with(env, deferred, "stepAsync: the step was cancelled");
}

}  // namespace

napi_value start_step_async(napi_env env, addon_instance *instance, napi_value plan_value, prepared_plan *plan,
                            const step_kernels *kernel, uint64_t claim, const char **error) {
  async_step *job = new async_step();
  job->plan = plan;
  job->instance = instance;
  job->kernel = kernel;
  job->claim = claim;
  napi_value promise = nullptr, name;
  *error = "stepAsync: could not queue the step (is the environment shutting down?)";
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    release_job(env, job, false);
    return nullptr;
  }
  bool queued = false;
  if (napi_create_string_utf8(env, "simd-adam:stepAsync", NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_create_reference(env, plan_value, 1, &job->keep_alive) == napi_ok &&
      napi_create_async_work(env, nullptr, name, execute, complete, job, &job->work) == napi_ok &&
      hold_buffers(env, plan, true)) {
    plan->busy = true;
    instance->async_started();
    queued = napi_queue_async_work(env, job->work) == napi_ok;
    if (!queued) instance->async_executed();
  }
  if (!queued) {
    /* Settle the promise no one will see, so its deferred is freed too. */
    reject_with(env, job->deferred, *error);
    release_job(env, job, true);
    return nullptr;
  }
  *error = nullptr;
  return promise;
}
