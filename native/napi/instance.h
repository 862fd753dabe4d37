/* Per-environment (main thread or worker) state of the addon: which backend it has chosen. */
#ifndef SIMD_ADAM_INSTANCE_H
#define SIMD_ADAM_INSTANCE_H

#include "runtime/dispatch.h"

struct addon_instance {
  const simd_adam_backend *current = simd_adam_best();
};

#endif
