/* Node-API glue for the process-wide record of memory in use (runtime/claims.h): what the
 * TypeScript layer uses for the operations it runs itself (the js backend's asynchronous step,
 * zeroGrad's fill, attachGrads) and to ask whether an optimizer is busy. */
#ifndef SIMD_ADAM_CLAIMS_NAPI_H
#define SIMD_ADAM_CLAIMS_NAPI_H

#include <napi.h>

#include <vector>

#include "runtime/claims.h"

/* The ranges of a view table (buffers, table of (buffer, byte offset, byte length) rows),
 * each view read, or written where `writes` (a Uint8Array, one entry per row, or NULL for none)
 * says so; normalized. False if a view does not fit its buffer or the arguments are malformed. */
bool view_ranges(napi_env env, napi_value buffers, napi_value table, napi_value writes, std::vector<byte_range> *out);

/* Adds claim, release, inUse and liveClaims to the exports. */
void register_claim_functions(Napi::Env env, Napi::Object exports);

#endif
