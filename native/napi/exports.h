/* What the shipped addon and the bench addon both export: backend selection, and tables of
 * named constants (the plan's columns and flags) that TypeScript reads instead of copying. */
#ifndef SIMD_ADAM_NAPI_EXPORTS_H
#define SIMD_ADAM_NAPI_EXPORTS_H

#include <napi.h>

#include <initializer_list>
#include <utility>

#include "errors.h"
#include "instance.h"

/* select(name): true if this build has the backend and the CPU supports it, and it is now the
 * environment's; false (nothing changed) otherwise. */
inline Napi::Value select_backend(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return throw_internal(env, "select(name): name must be a string");
  const simd_adam_backend *found = simd_adam_find(info[0].As<Napi::String>().Utf8Value().c_str());
  if (found == nullptr || !found->supported) return Napi::Boolean::New(env, false);
  addon_instance *instance = instance_of(env);
  if (!instance) return env.Undefined();
  instance->current = found;
  return Napi::Boolean::New(env, true);
}

/* { name: value, ... } */
inline Napi::Object number_table(Napi::Env env, std::initializer_list<std::pair<const char *, double>> entries) {
  Napi::Object table = Napi::Object::New(env);
  for (const auto &entry : entries) table.Set(entry.first, entry.second);
  return table;
}

typedef Napi::Value (*export_fn)(const Napi::CallbackInfo &);

/* Sets up the environment's instance and adds each function under its name; false (with an
 * ERR_INTERNAL pending) if the environment could not be set up. */
inline bool export_functions(Napi::Env env, Napi::Object exports, const char *module,
                             std::initializer_list<std::pair<const char *, export_fn>> functions) {
  if (!install_instance(env)) {
    throw_internal(env, module);
    return false;
  }
  for (const auto &f : functions) exports.Set(f.first, Napi::Function::New(env, f.second, f.first));
  return true;
}

#endif
