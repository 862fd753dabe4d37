#include "step_async.h"

#include "runtime/thread_pool.h"

namespace {

struct async_step {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keep_alive = nullptr;
  prepared_plan *plan = nullptr;
  const step_kernels *kernel = nullptr;
};

/* On a libuv worker: no Node-API here, only the plan's raw pointers. */
void execute(napi_env, void *data) {
  async_step *job = static_cast<async_step *>(data);
  execute_segments(job->plan->segments.data(), job->plan->segments.size(), job->kernel);
}

/* The plan's buffer references are weak between steps (prepared_plan.h): strong while one runs. */
void hold_buffers(napi_env env, prepared_plan *plan, bool hold) {
  for (napi_ref ref : plan->buffers) {
    uint32_t count = 0;
    if (hold) napi_reference_ref(env, ref, &count);
    else napi_reference_unref(env, ref, &count);
  }
}

void complete(napi_env env, napi_status status, void *data) {
  async_step *job = static_cast<async_step *>(data);
  job->plan->busy = false;
  hold_buffers(env, job->plan, false);
  napi_delete_reference(env, job->keep_alive);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (status == napi_ok) {
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, "stepAsync: the step was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, nullptr, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  delete job;
}

}  // namespace

napi_value start_step_async(napi_env env, napi_value plan_value, prepared_plan *plan, const step_kernels *kernel,
                            const char **error) {
  async_step *job = new async_step();
  job->plan = plan;
  job->kernel = kernel;
  napi_value promise, name;
  napi_create_string_utf8(env, "simd-adam:stepAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_reference(env, plan_value, 1, &job->keep_alive) != napi_ok ||
      napi_create_async_work(env, nullptr, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    *error = "stepAsync: could not queue the step";
    if (job->keep_alive) napi_delete_reference(env, job->keep_alive);
    delete job;
    return nullptr;
  }
  plan->busy = true;
  hold_buffers(env, plan, true);
  return promise;
}
