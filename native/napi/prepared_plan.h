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
  /* One more than the largest buffer index a parameter or state column names: refresh_grads
   * never drops a buffer below it. */
  size_t fixed_min = 0;
  /* The grad column refresh_grads last took (buffer index, element offset per segment), copied
   * into `table` only when the table must be decoded again: a step then writes it once,
   * sequentially, instead of two scattered cells per segment. */
  std::vector<double> grad_column;
  bool grad_column_pending = false;
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

/* Replaces the plan's grad column (per segment: buffer index, element offset) after keeping the
 * first `keep` buffers and appending registry[from..]: only buffers the plan has not seen are
 * read. Re-locates each segment's grad if the plan is decoded. Returns NULL, or why not (the
 * plan is then left undecoded, so the next run decodes it again or fails). */
const char *refresh_grads(napi_env env, prepared_plan *plan, size_t keep, napi_value registry, uint32_t from,
                          const double *column, size_t column_length);

#endif
