#include "napi_views.h"

#include <cmath>

namespace views {

namespace {

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

bool whole(double x) { return x >= 0 && x == std::floor(x) && x <= 9007199254740992.0; }

}  // namespace

bool read_buffers(napi_env env, napi_value list, std::vector<span> *out) {
  bool is = false;
  uint32_t count = 0;
  if (napi_is_array(env, list, &is) != napi_ok || !is || napi_get_array_length(env, list, &count) != napi_ok)
    return false;
  out->resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    napi_value item;
    if (napi_get_element(env, list, i, &item) != napi_ok || !read_buffer(env, item, &(*out)[i])) return false;
  }
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
