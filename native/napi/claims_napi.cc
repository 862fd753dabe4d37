#include "claims_napi.h"

#include <math.h>

#include <memory>

#include "errors.h"
#include "instance.h"
#include "prepared_plan.h"

namespace {

/* One row per view: (buffer index, byte offset, byte length): views of any element type. */
const size_t kViewStride = 3;

bool is_count(double x) { return x >= 0 && x <= 9007199254740992.0 && x == floor(x); }

/* claim(buffers, table, writes) → an id (> 0), or 0 if a running step holds some of that
 * memory. The caller must release(id) when done; the environment's teardown releases what is left. */
Napi::Value Claim(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::unique_ptr<std::vector<byte_range>> ranges(new std::vector<byte_range>());
  addon_instance *instance = instance_of(env);
  if (info.Length() != 3 || !view_ranges(env, info[0], info[1], info[2], ranges.get()))
    return throw_internal(env, "claim(buffers, table, writes): bad arguments");
  if (!instance) return env.Undefined();
  const uint64_t id = claims_acquire(ranges.get());
  if (id) instance->js_claims[id] = std::move(ranges);
  return Napi::Number::New(env, static_cast<double>(id));
}

/* release(id): ends a claim taken by claim() in this environment; an unknown id is ignored. */
Napi::Value Release(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  addon_instance *instance = instance_of(env);
  if (info.Length() != 1 || !info[0].IsNumber()) return throw_internal(env, "release(id): bad arguments");
  if (!instance) return env.Undefined();
  const double id = info[0].As<Napi::Number>().DoubleValue();
  if (!(id >= 1 && id <= 9007199254740992.0)) return env.Undefined();
  const auto found = instance->js_claims.find(static_cast<uint64_t>(id));
  if (found == instance->js_claims.end()) return env.Undefined();
  claims_release(found->first);
  instance->js_claims.erase(found);
  return env.Undefined();
}

/* inUse(buffers, table, writes) → true if claim() would be refused now. */
Napi::Value InUse(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<byte_range> ranges;
  if (info.Length() != 3 || !view_ranges(env, info[0], info[1], info[2], &ranges))
    return throw_internal(env, "inUse(buffers, table, writes): bad arguments");
  return Napi::Boolean::New(env, claims_conflict(ranges));
}

/* liveClaims() → claims held in the whole process now (tests: none may outlive its step). */
Napi::Value LiveClaims(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(claims_live()));
}

}  // namespace

bool view_ranges(napi_env env, napi_value buffers_value, napi_value table_value, napi_value writes_value,
                 std::vector<byte_range> *out) {
  std::vector<buffer_span> buffers;
  const double *table = nullptr;
  size_t length = 0;
  if (!read_buffer_list(env, buffers_value, &buffers) || !read_f64_array(env, table_value, &table, &length) ||
      length % kViewStride != 0)
    return false;
  const size_t count = length / kViewStride;
  const uint8_t *writes = nullptr;
  if (writes_value != nullptr) {
    napi_valuetype type;
    if (napi_typeof(env, writes_value, &type) != napi_ok) return false;
    if (type != napi_null && type != napi_undefined) {
      bool is = false;
      napi_typedarray_type kind;
      size_t n = 0;
      void *data = nullptr;
      if (napi_is_typedarray(env, writes_value, &is) != napi_ok || !is ||
          napi_get_typedarray_info(env, writes_value, &kind, &n, &data, nullptr, nullptr) != napi_ok ||
          kind != napi_uint8_array || n != count)
        return false;
      writes = static_cast<const uint8_t *>(data);
    }
  }
  out->clear();
  for (size_t v = 0; v < count; ++v) {
    const double *row = table + v * kViewStride;
    if (!is_count(row[0]) || !is_count(row[1]) || !is_count(row[2]) || row[0] >= static_cast<double>(buffers.size())) return false;
    const buffer_span &b = buffers[static_cast<size_t>(row[0])];
    const size_t offset = static_cast<size_t>(row[1]), bytes = static_cast<size_t>(row[2]);
    if (bytes > 0 && (b.data == nullptr || offset > b.bytes || bytes > b.bytes - offset)) return false;
    if (bytes > 0) add_range(out, b.data + offset, bytes, writes != nullptr && writes[v] != 0);
  }
  normalize_ranges(out);
  return true;
}

void register_claim_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("claim", Napi::Function::New(env, Claim, "claim"));
  exports.Set("release", Napi::Function::New(env, Release, "release"));
  exports.Set("inUse", Napi::Function::New(env, InUse, "inUse"));
  exports.Set("liveClaims", Napi::Function::New(env, LiveClaims, "liveClaims"));
}
