/* The one way the glue reports a malformed call: an Error with code ERR_INTERNAL. The TypeScript
 * layer validates everything a user can pass, so reaching this means the package sent
 * something it never should, or memory safety would be at stake (a detached buffer). */
#ifndef SIMD_ADAM_NAPI_ERRORS_H
#define SIMD_ADAM_NAPI_ERRORS_H

#include <napi.h>

/* Throws and returns undefined, so a caller can `return throw_internal(env, "...")`. */
inline Napi::Value throw_internal(Napi::Env env, const char *message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INTERNAL"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

#endif
