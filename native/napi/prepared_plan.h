/* Reading a step plan through Node-API: buffers and Float64Arrays into spans, and the prepared
 * plan, which an optimizer keeps between steps so that a step reads only its scalars and each
 * buffer's current address (about 10 ns a buffer) instead of decoding the table again. */
#ifndef SIMD_ADAM_PLAN_NAPI_H
#define SIMD_ADAM_PLAN_NAPI_H

#include <node_api.h>

#include <vector>

#include "runtime/segments.h"

/* An ArrayBuffer, or (for SharedArrayBuffer, which Node-API 8 cannot read directly) a
 * Uint8Array over the whole buffer. A resizable ArrayBuffer or growable SharedArrayBuffer is
 * refused: a resize() under a running step would leave threads writing past its length.
 * `check_fixed` false skips that check (one property read) for a buffer already checked. */
bool read_buffer(napi_env env, napi_value value, buffer_span *out, bool check_fixed = true);
bool read_buffer_list(napi_env env, napi_value list, std::vector<buffer_span> *out);
bool read_f64_array(napi_env env, napi_value value, const double **data, size_t *length);

struct prepared_plan {
  /* Weak references (count 0) between steps: the TypeScript plan holds the views anyway, and a
   * dropped optimizer's buffers must not wait for this plan's finalizer, which Node runs only
   * when the event loop turns. An asynchronous step raises every count to 1 until it settles,
   * so the buffers it writes cannot be collected under it. */
  std::vector<napi_ref> buffers;
  std::vector<bool> is_view; /* a Uint8Array over a SharedArrayBuffer, not an ArrayBuffer */
  std::vector<buffer_span> spans;
  std::vector<double> table;
  size_t rows = 0;
  std::vector<step_segment> segments;
  /* The memory a step over `segments` reads and writes (runtime/claims.h), kept with them. */
  std::vector<byte_range> ranges;
  bool resolved = false;
  bool busy = false; /* an asynchronous step is running over it */
};

/* Wraps (buffers, table) into a JS object owning a prepared_plan; NULL with *error set if the
 * arguments are malformed. */
napi_value prepare_plan(napi_env env, napi_value buffers, napi_value table, const char **error);
/* The plan behind a value made by prepare_plan, or NULL. */
prepared_plan *unwrap_plan(napi_env env, napi_value value);
/* Re-reads every buffer's address and length, decoding the table again only if one moved
 * (detached, say): returns NULL, or why the plan no longer fits its buffers. */
const char *refresh_plan(napi_env env, prepared_plan *plan);

#endif
