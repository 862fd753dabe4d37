#include "napi_views.h"

#include <cmath>

#include "plan_napi.h"

namespace views {

namespace {

bool whole(double x) { return x >= 0 && x == std::floor(x) && x <= 9007199254740992.0; }

}  // namespace

bool read_buffers(napi_env env, napi_value list, std::vector<span> *out) { return read_buffer_list(env, list, out); }

bool read_f64_array(napi_env env, napi_value value, const double **data, size_t *length) {
  return ::read_f64_array(env, value, data, length);
}

bool locate(const std::vector<span> &buffers, double index, double offset, double n, float **out, size_t *count) {
  if (!whole(index) || index >= static_cast<double>(buffers.size()) || !whole(offset) || !whole(n)) return false;
  const span &b = buffers[static_cast<size_t>(index)];
  const size_t start = static_cast<size_t>(offset), length = static_cast<size_t>(n);
  if (b.data == nullptr && length > 0) return false;
  if (start > b.bytes / sizeof(float) || length > b.bytes / sizeof(float) - start) return false;
  *out = reinterpret_cast<float *>(b.data) + start;
  *count = length;
  return true;
}

Napi::Value throw_internal(Napi::Env env, const char *message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INTERNAL"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace views
