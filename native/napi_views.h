/* Turning (buffers, table) arguments into float pointers, re-checking only what memory safety
 * needs: an index or range that does not fit its buffer, a detached buffer. Shared by the
 * reduction and guard glue. */
#ifndef SIMD_ADAM_NAPI_VIEWS_H
#define SIMD_ADAM_NAPI_VIEWS_H

#define NAPI_VERSION 8
#include <napi.h>

#include <vector>

#include "plan.h"

namespace views {

/* The same span the step plan reads (native/plan.h): data NULL and 0 bytes when detached. */
typedef buffer_span span;

/* A JS array of ArrayBuffers or (for SharedArrayBuffers) Uint8Arrays over whole buffers. */
bool read_buffers(napi_env env, napi_value list, std::vector<span> *out);
bool read_f64_array(napi_env env, napi_value value, const double **data, size_t *length);
/* Resolves (buffer index, element offset) for n floats; false if it does not fit. */
bool locate(const std::vector<span> &buffers, double index, double offset, double n, float **out, size_t *count);
/* Throws an Error with code ERR_INTERNAL: the TypeScript layer sent something it never should. */
Napi::Value throw_internal(Napi::Env env, const char *message);

}  // namespace views

#endif
