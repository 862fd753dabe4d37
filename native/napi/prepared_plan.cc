#include "prepared_plan.h"

#include <memory>

#include "runtime/segment_table.h"

namespace {

/* Marks objects made by prepare_plan, so a stray object can never be taken for one. */
const napi_type_tag PLAN_TAG = {0x73696d6461646d31ULL, 0x706c616e2d763031ULL};

void delete_references(napi_env env, prepared_plan *plan) {
  for (napi_ref ref : plan->buffers) napi_delete_reference(env, ref);
  plan->buffers.clear();
}

/* A plan is collected only once no asynchronous step holds it (step_async.cc keeps a strong
 * reference until it settles), and the environment's cleanup hook waits for steps still
 * executing before any finalizer runs (instance.h). */
void finalize_plan(napi_env env, void *data, void *) {
  prepared_plan *plan = static_cast<prepared_plan *>(data);
  delete_references(env, plan);
  delete plan;
}

}  // namespace

bool read_buffer(napi_env env, napi_value value, buffer_span *out, bool check_fixed) {
  bool is = false;
  void *data = nullptr;
  size_t bytes = 0;
  napi_value backing = value;
  const char *resizable = "resizable";
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, value, &data, &bytes) != napi_ok) return false;
  } else if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length = 0;
    if (napi_get_typedarray_info(env, value, &type, &length, &data, &backing, nullptr) != napi_ok ||
        type != napi_uint8_array)
      return false;
    bytes = length;
    if (napi_is_arraybuffer(env, backing, &is) != napi_ok) return false;
    if (!is) resizable = "growable"; /* a SharedArrayBuffer */
  } else {
    return false;
  }
  if (check_fixed) {
    /* Node-API 8 cannot ask whether a buffer is resizable: read the JS property (about 50 ns). */
    napi_value flag;
    bool yes = false;
    if (napi_get_named_property(env, backing, resizable, &flag) != napi_ok) return false;
    napi_valuetype kind;
    if (napi_typeof(env, flag, &kind) != napi_ok) return false;
    if (kind == napi_boolean && (napi_get_value_bool(env, flag, &yes) != napi_ok || yes)) return false;
  }
  out->data = static_cast<char *>(data);
  out->bytes = data ? bytes : 0;
  return true;
}

bool read_buffer_list(napi_env env, napi_value list, std::vector<buffer_span> *out) {
  bool is = false;
  uint32_t count = 0;
  if (napi_is_array(env, list, &is) != napi_ok || !is || napi_get_array_length(env, list, &count) != napi_ok) return false;
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
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok || type != napi_float64_array)
    return false;
  *data = static_cast<const double *>(raw);
  return true;
}

napi_value prepare_plan(napi_env env, napi_value buffers, napi_value table, const char **error) {
  std::vector<buffer_span> spans;
  const double *rows = nullptr;
  size_t length = 0;
  if (!read_buffer_list(env, buffers, &spans)) {
    *error = "prepare: buffers must be ArrayBuffers or Uint8Arrays";
    return nullptr;
  }
  if (!read_f64_array(env, table, &rows, &length) || length % PLAN_SEGMENT_STRIDE != 0) {
    *error = "prepare: the table must be a Float64Array of whole rows";
    return nullptr;
  }
  std::unique_ptr<prepared_plan> plan(new prepared_plan());
  plan->spans = spans;
  plan->table.assign(rows, rows + length);
  plan->rows = length / PLAN_SEGMENT_STRIDE;
  static const int FIXED_COLUMNS[] = {PLAN_PARAM_BUFFER,           PLAN_EXP_AVG_BUFFER,          PLAN_EXP_AVG_SQ_BUFFER,
                                      PLAN_MAX_EXP_AVG_SQ_BUFFER,  PLAN_EXP_AVG_SCALE_BUFFER,    PLAN_EXP_AVG_SQ_SCALE_BUFFER,
                                      PLAN_MAX_EXP_AVG_SQ_SCALE_BUFFER};
  double most = 0;
  for (size_t k = 0; k < plan->rows; ++k)
    for (int column : FIXED_COLUMNS)
      if (rows[k * PLAN_SEGMENT_STRIDE + column] + 1 > most) most = rows[k * PLAN_SEGMENT_STRIDE + column] + 1;
  plan->fixed_min = most >= static_cast<double>(spans.size()) ? spans.size() : static_cast<size_t>(most);
  plan->is_view.resize(spans.size());
  *error = "prepare: Node-API refused to make the plan (is the environment shutting down?)";
  for (uint32_t i = 0; i < spans.size(); ++i) {
    napi_value item;
    bool is_arraybuffer = false;
    napi_ref ref = nullptr;
    if (napi_get_element(env, buffers, i, &item) != napi_ok || napi_is_arraybuffer(env, item, &is_arraybuffer) != napi_ok ||
        napi_create_reference(env, item, 0, &ref) != napi_ok) {
      delete_references(env, plan.get());
      return nullptr;
    }
    plan->is_view[i] = !is_arraybuffer;
    plan->buffers.push_back(ref);
  }
  napi_value object;
  if (napi_create_object(env, &object) != napi_ok || napi_type_tag_object(env, object, &PLAN_TAG) != napi_ok ||
      napi_wrap(env, object, plan.get(), finalize_plan, nullptr, nullptr) != napi_ok) {
    delete_references(env, plan.get());
    return nullptr;
  }
  plan.release(); /* finalize_plan owns it now */
  *error = nullptr;
  return object;
}

prepared_plan *unwrap_plan(napi_env env, napi_value value) {
  bool tagged = false;
  void *data = nullptr;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return nullptr;
  if (napi_check_object_type_tag(env, value, &PLAN_TAG, &tagged) != napi_ok || !tagged) return nullptr;
  if (napi_unwrap(env, value, &data) != napi_ok) return nullptr;
  return static_cast<prepared_plan *>(data);
}

const char *refresh_plan(napi_env env, prepared_plan *plan) {
  /* Per buffer: one reference read and one info read, about 25 ns; the kind is known from
   * prepare. A scope per block keeps a plan of 100000 buffers from growing the call's scope. */
  const size_t BLOCK = 256;
  bool moved = !plan->resolved;
  for (size_t first = 0; first < plan->buffers.size(); first += BLOCK) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return "step: out of handles";
    const size_t end = first + BLOCK < plan->buffers.size() ? first + BLOCK : plan->buffers.size();
    bool ok = true;
    for (size_t i = first; i < end && ok; ++i) {
      napi_value value;
      buffer_span now = {nullptr, 0};
      void *data = nullptr;
      ok = napi_get_reference_value(env, plan->buffers[i], &value) == napi_ok && value != nullptr;
      if (ok && plan->is_view[i]) ok = read_buffer(env, value, &now, false);
      else if (ok) {
        ok = napi_get_arraybuffer_info(env, value, &data, &now.bytes) == napi_ok;
        now.data = static_cast<char *>(data);
        if (!data) now.bytes = 0;
      }
      if (ok && (now.data != plan->spans[i].data || now.bytes != plan->spans[i].bytes)) {
        plan->spans[i] = now;
        moved = true;
      }
    }
    napi_close_handle_scope(env, scope);
    if (!ok) return "step: a plan buffer is gone";
  }
  if (!moved) return nullptr;
  plan->resolved = false;
  if (plan->grad_column_pending) {
    for (size_t k = 0; k < plan->rows; ++k) {
      plan->table[k * PLAN_SEGMENT_STRIDE + PLAN_GRAD_BUFFER] = plan->grad_column[2 * k];
      plan->table[k * PLAN_SEGMENT_STRIDE + PLAN_GRAD_OFFSET] = plan->grad_column[2 * k + 1];
    }
    plan->grad_column_pending = false;
  }
  const char *error = decode_segments(plan->spans.data(), plan->spans.size(), plan->table.data(), plan->rows, &plan->segments);
  if (error == nullptr) {
    segment_ranges(plan->segments, &plan->ranges);
    plan->resolved = true;
  }
  return error;
}

namespace {

/* Appends `value` (an ArrayBuffer, or a Uint8Array over a SharedArrayBuffer) to the plan's
 * buffers, with a weak reference like the others. */
bool append_buffer(napi_env env, prepared_plan *plan, napi_value value) {
  buffer_span span = {nullptr, 0};
  bool is_arraybuffer = false;
  napi_ref ref = nullptr;
  if (!read_buffer(env, value, &span) || napi_is_arraybuffer(env, value, &is_arraybuffer) != napi_ok ||
      napi_create_reference(env, value, 0, &ref) != napi_ok)
    return false;
  plan->buffers.push_back(ref);
  plan->is_view.push_back(!is_arraybuffer);
  plan->spans.push_back(span);
  return true;
}

}  // namespace

const char *refresh_grads(napi_env env, prepared_plan *plan, size_t keep, napi_value registry, uint32_t from,
                          const double *column, size_t column_length) {
  if (column_length != 2 * plan->rows) return "refreshGrads: the column must hold two numbers per segment";
  if (keep < plan->fixed_min || keep > plan->buffers.size()) return "refreshGrads: bad buffer counts";
  bool is = false;
  uint32_t count = 0;
  if (napi_is_array(env, registry, &is) != napi_ok || !is || napi_get_array_length(env, registry, &count) != napi_ok ||
      from > count)
    return "refreshGrads: the registry must be an array of buffers";
  for (size_t i = keep; i < plan->buffers.size(); ++i) napi_delete_reference(env, plan->buffers[i]);
  plan->buffers.resize(keep);
  plan->is_view.resize(keep);
  plan->spans.resize(keep);
  for (uint32_t i = from; i < count; ++i) {
    napi_value item;
    if (napi_get_element(env, registry, i, &item) != napi_ok || !append_buffer(env, plan, item)) {
      plan->resolved = false;
      return "refreshGrads: the registry must be an array of buffers";
    }
  }
  plan->grad_column.assign(column, column + column_length);
  plan->grad_column_pending = true;
  if (!plan->resolved) return nullptr;
  /* Per segment a few compares (no floor(), a libm call at the baseline ISA): this runs every
   * step of a loop whose grads are new arrays. */
  const buffer_span *spans = plan->spans.data();
  const double buffer_count = static_cast<double>(plan->spans.size());
  for (size_t k = 0; k < plan->rows; ++k) {
    step_segment &seg = plan->segments[k];
    const double index = column[2 * k], offset = column[2 * k + 1];
    bool ok = index >= 0 && index < buffer_count && offset >= 0 && offset <= 9007199254740992.0;
    const size_t i = ok ? static_cast<size_t>(index) : 0, start = ok ? static_cast<size_t>(offset) : 0;
    ok = ok && static_cast<double>(i) == index && static_cast<double>(start) == offset;
    const size_t floats = ok ? spans[i].bytes / sizeof(float) : 0;
    ok = ok && (spans[i].data != nullptr || seg.n == 0) && start <= floats && seg.n <= floats - start;
    if (!ok) {
      plan->resolved = false;
      return "refreshGrads: a grad does not fit its buffer (detached?)";
    }
    const float *grad = reinterpret_cast<const float *>(spans[i].data) + start;
    seg.tensor.grad = grad; /* each state format's kernel takes the grad from its own tensor */
    seg.bf16.grad = seg.q8.grad = grad;
  }
  /* The claim's ranges follow the grads (refresh runs only while no step holds the plan). */
  segment_ranges(plan->segments, &plan->ranges);
  return nullptr;
}
