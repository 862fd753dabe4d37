#include "reduce_napi.h"

#include "errors.h"
#include "exports.h"
#include "prepared_plan.h"

namespace {

/* What reduce() computes for each view. */
enum { REDUCE_SUM_SQ, REDUCE_SUM_ABS, REDUCE_SUM_POW, REDUCE_MAX_ABS, REDUCE_FIRST_NON_FINITE };

/* One table row per view: (buffer index, element offset, length). */
const size_t kViewStride = 3;

struct decoded {
  std::vector<float *> data;
  std::vector<size_t> n;
  std::vector<byte_range> ranges; /* what the call reads (or writes), for its claim */
};

const char *const BUSY = "the memory it would read or write is in use by a running step";

bool decode_views(const Napi::CallbackInfo &info, decoded *out, bool write) {
  std::vector<buffer_span> buffers;
  const double *table = nullptr;
  size_t length = 0;
  if (info.Length() < 2 || !read_buffer_list(info.Env(), info[0], &buffers) ||
      !read_f64_array(info.Env(), info[1], &table, &length) || length % kViewStride != 0)
    return false;
  const size_t count = length / kViewStride;
  out->data.resize(count);
  out->n.resize(count);
  for (size_t v = 0; v < count; ++v) {
    const double *row = table + v * kViewStride;
    if (!locate_view(buffers.data(), buffers.size(), row[0], row[1], row[2], &out->data[v], &out->n[v])) return false;
    add_range(&out->ranges, out->data[v], out->n[v] * sizeof(float), write);
  }
  normalize_ranges(&out->ranges);
  return true;
}

/* The results as a new typed array. Computed first, into memory of our own: in an environment that
 * is shutting down the array cannot be made (its Data() would be NULL), and then the call
 * returns undefined instead of writing through it. */
template <typename Array, typename T>
Napi::Value copy_out(Napi::Env env, const std::vector<T> &values) {
  Array out = Array::New(env, values.size());
  if (out.IsEmpty() || (values.size() > 0 && out.Data() == nullptr)) return Napi::Value(env, nullptr);
  for (size_t v = 0; v < values.size(); ++v) out.Data()[v] = values[v];
  return out;
}

const reduce_kernels *current_of(const Napi::CallbackInfo &info) {
  return reinterpret_cast<current_reduce_fn>(info.Data())(info.Env());
}

/* allZero(buffers, table) → Uint8Array: 1 where every element of the view is ±0. */
Napi::Value AllZero(const Napi::CallbackInfo &info) {
  decoded d;
  if (!decode_views(info, &d, false)) return throw_internal(info.Env(), "allZero(buffers, table): bad arguments");
  scoped_claim claim(&d.ranges);
  if (!claim.held()) return throw_busy(info.Env(), BUSY);
  const reduce_kernels *k = current_of(info);
  std::vector<uint8_t> zero(d.n.size());
  for (size_t v = 0; v < d.n.size(); ++v) zero[v] = static_cast<uint8_t>(k->all_zero(d.data[v], d.n[v]));
  return copy_out<Napi::Uint8Array>(info.Env(), zero);
}

/* reduce(buffers, table, op, p) → Float64Array, one result per view. */
Napi::Value Reduce(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  decoded d;
  if (!decode_views(info, &d, false) || info.Length() != 4 || !info[2].IsNumber() || !info[3].IsNumber())
    return throw_internal(env, "reduce(buffers, table, op, p): bad arguments");
  scoped_claim claim(&d.ranges);
  if (!claim.held()) return throw_busy(env, BUSY);
  const int op = info[2].As<Napi::Number>().Int32Value();
  const double p = info[3].As<Napi::Number>().DoubleValue();
  if (op < REDUCE_SUM_SQ || op > REDUCE_FIRST_NON_FINITE) return throw_internal(env, "reduce: unknown op");
  const reduce_kernels *k = current_of(info);
  std::vector<double> out(d.n.size());
  for (size_t v = 0; v < d.n.size(); ++v) {
    const float *x = d.data[v];
    const size_t n = d.n[v];
    switch (op) {
      case REDUCE_SUM_SQ: out[v] = k->sum_sq(x, n); break;
      case REDUCE_SUM_ABS: out[v] = k->sum_abs(x, n); break;
      case REDUCE_SUM_POW: out[v] = sum_pow_abs_f32_scalar(x, n, p); break;
      case REDUCE_MAX_ABS: out[v] = k->max_abs(x, n); break;
      case REDUCE_FIRST_NON_FINITE: out[v] = static_cast<double>(k->first_non_finite(x, n)); break;
    }
  }
  return copy_out<Napi::Float64Array>(env, out);
}

/* scale(buffers, table, factor): every view *= factor, in float. */
Napi::Value Scale(const Napi::CallbackInfo &info) {
  decoded d;
  if (!decode_views(info, &d, true) || info.Length() != 3 || !info[2].IsNumber())
    return throw_internal(info.Env(), "scale(buffers, table, factor): bad arguments");
  scoped_claim claim(&d.ranges);
  if (!claim.held()) return throw_busy(info.Env(), BUSY);
  const float factor = static_cast<float>(info[2].As<Napi::Number>().DoubleValue());
  const reduce_kernels *k = current_of(info);
  for (size_t v = 0; v < d.n.size(); ++v) k->scale(d.data[v], d.n[v], factor);
  return info.Env().Undefined();
}

Napi::Object layout(Napi::Env env) {
  const Napi::Object ops = number_table(env, {{"SUM_SQ", REDUCE_SUM_SQ}, {"SUM_ABS", REDUCE_SUM_ABS}, {"SUM_POW", REDUCE_SUM_POW},
                                              {"MAX_ABS", REDUCE_MAX_ABS}, {"FIRST_NON_FINITE", REDUCE_FIRST_NON_FINITE}});
  const Napi::Object guard = number_table(env, {{"NON_FINITE", GUARD_NON_FINITE}, {"ZERO_SCAN", GUARD_ZERO_SCAN}, {"ZERO_GRAD", ZERO_GRAD},
                                                {"ZERO_PARAM", ZERO_PARAM}, {"ZERO_EXP_AVG", ZERO_EXP_AVG}});
  Napi::Object out = Napi::Object::New(env);
  out.Set("VIEW_STRIDE", static_cast<double>(kViewStride));
  out.Set("ops", ops);
  out.Set("guard", guard);
  return out;
}

}  // namespace

void register_reduce_functions(Napi::Env env, Napi::Object exports, current_reduce_fn current) {
  void *data = reinterpret_cast<void *>(current);
  exports.Set("allZero", Napi::Function::New(env, AllZero, "allZero", data));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce", data));
  exports.Set("scale", Napi::Function::New(env, Scale, "scale", data));
  exports.Set("reduceLayout", layout(env));
}

Napi::Value run_step_prepass(Napi::Env env, const reduce_kernels *k, napi_value flags_value, napi_value report_value,
                             const std::vector<guard_segment> &segments) {
  const Napi::Value flags_js(env, flags_value);
  if (!flags_js.IsNumber()) return throw_internal(env, "step: guard flags must be a number");
  const double flags_number = flags_js.As<Napi::Number>().DoubleValue();
  if (!(flags_number >= 0 && flags_number <= (GUARD_NON_FINITE | GUARD_ZERO_SCAN)) || flags_number != static_cast<double>(static_cast<unsigned>(flags_number)))
    return throw_internal(env, "step: guard flags must be a set of known bits");
  const unsigned flags = static_cast<unsigned>(flags_number);
  uint8_t *report = nullptr;
  if (flags & GUARD_ZERO_SCAN) {
    const Napi::Value report_js(env, report_value);
    if (!report_js.IsTypedArray() || report_js.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        report_js.As<Napi::Uint8Array>().ElementLength() != segments.size())
      return throw_internal(env, "step: the zero report must be a Uint8Array with one entry per segment");
    report = report_js.As<Napi::Uint8Array>().Data();
  }
  size_t bad_segment = 0, bad_element = 0;
  if (step_prepass(k, segments.data(), segments.size(), flags, report, &bad_segment, &bad_element)) return env.Null();
  Napi::Array stopped = Napi::Array::New(env, 2);
  stopped.Set(0u, static_cast<double>(bad_segment));
  stopped.Set(1u, static_cast<double>(bad_element));
  return stopped;
}
