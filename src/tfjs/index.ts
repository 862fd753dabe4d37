/**
 * `simd-adam/tfjs`: SimdAdam and SimdAdamW, TensorFlow.js optimizers whose update runs in
 * simd-adam's native kernel. Needs `@tensorflow/tfjs-core` (an optional peer dependency of
 * simd-adam; `@tensorflow/tfjs` brings it). Importing this module registers both classes with
 * `tf.serialization`, so models saved with `includeOptimizer: true` load with them.
 * @module simd-adam/tfjs
 */
import * as tf from '@tensorflow/tfjs-core';

import { SimdAdam, SimdAdamW } from './optimizer.js';

tf.serialization.registerClass(SimdAdam);
tf.serialization.registerClass(SimdAdamW);

export { SimdAdam, SimdAdamW };
export type { SimdAdamOptions } from './options.js';
export type { NamedTensor } from './weights.js';
