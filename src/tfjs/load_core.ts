/**
 * Loads @tensorflow/tfjs-core, the optional peer dependency simd-adam/tfjs runs on. A static
 * `import` of it would make Node fail at link time, before any of our code runs, with a bare
 * ERR_MODULE_NOT_FOUND; loaded here instead, a missing tfjs-core is one SimdAdamError that says
 * what to install. Every module of simd-adam/tfjs takes tfjs-core's values from here and only its
 * types from the package itself (`import type`, erased from the emitted JavaScript).
 *
 * require() reaches the same instance the user's `import '@tensorflow/tfjs'` does: tfjs-core has
 * no "exports" map, so both resolve its CommonJS "main", and Node keeps one module cache for both.
 */
import { createRequire } from 'node:module';

import type * as TfCore from '@tensorflow/tfjs-core';

import { SimdAdamError } from '../index.js';

const PEER = '@tensorflow/tfjs-core';

function loadTfjsCore(): typeof TfCore {
  const require = createRequire(import.meta.url);
  try {
    require.resolve(PEER);
  } catch (cause) {
    throw new SimdAdamError(
      'ERR_TFJS_LOAD',
      [
        `simd-adam/tfjs needs ${PEER}, an optional peer dependency of simd-adam, and it is not installed.`,
        `Install it next to simd-adam:`,
        `  npm install ${PEER}`,
        `or all of TensorFlow.js, which brings it:`,
        `  npm install @tensorflow/tfjs`,
        `(simd-adam itself, import 'simd-adam', does not need it.)`,
      ].join('\n'),
      { cause },
    );
  }
  // Found but failing to load (a broken install, a missing dependency of its own): tfjs-core's
  // own error says more than any wrapper could, so it propagates as it is.
  return require(PEER) as typeof TfCore;
}

/** tfjs-core's exports, for the values simd-adam/tfjs uses (classes, engine(), serialization). */
export const tfCore = loadTfjsCore();
