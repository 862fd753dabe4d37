/* The one way the glue reports a refused call: an Error with a code. ERR_INTERNAL: the package
 * sent something it never should, or memory safety would be at stake (a detached or resizable
 * buffer). ERR_BUSY: the call would touch memory a running step reads or writes
 * (runtime/claims.h).
 *
 * Termination-safe: in an environment that is shutting down (a terminated worker) Node-API
 * cannot create or throw values, and node-addon-api's own throw aborts the process unless
 * NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS is defined (the build defines it). This goes through
 * the C API and gives up silently when a call fails: the call's JS caller is gone anyway. */
#ifndef SIMD_ADAM_NAPI_ERRORS_H
#define SIMD_ADAM_NAPI_ERRORS_H

#include <napi.h>

inline void throw_coded(napi_env env, const char *code, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  napi_value code_value = nullptr, message_value = nullptr, error = nullptr;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
      napi_create_error(env, code_value, message_value, &error) != napi_ok)
    return;
  napi_throw(env, error);
}

/* Throws and returns undefined, so a caller can `return throw_internal(env, "...")`. */
inline Napi::Value throw_internal(Napi::Env env, const char *message) {
  throw_coded(env, "ERR_INTERNAL", message);
  return Napi::Value(env, nullptr);
}

/* The message TypeScript recognizes (src/engine/claims.ts) and rewrites with the caller's name. */
inline Napi::Value throw_busy(Napi::Env env, const char *what) {
  throw_coded(env, "ERR_BUSY", what);
  return Napi::Value(env, nullptr);
}

#endif
