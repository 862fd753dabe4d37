/**
 * `simd-adam/tfjs`: SimdAdam and SimdAdamW, TensorFlow.js optimizers whose update runs in
 * simd-adam's native kernel. Needs `@tensorflow/tfjs-core` (an optional peer dependency of
 * simd-adam; `@tensorflow/tfjs` brings it). Importing this module registers both classes with
 * `tf.serialization`, so models saved with `includeOptimizer: true` load with them.
 * Importing it where tfjs-core is not installed throws one `SimdAdamError` with code
 * `ERR_TFJS_LOAD`, whose message says what to install and whose `cause` is Node's own error.
 * @module simd-adam/tfjs
 */
import { tfCore } from './load_core.js';
import { SimdAdam, SimdAdamW } from './optimizer.js';

tfCore.serialization.registerClass(SimdAdam);
tfCore.serialization.registerClass(SimdAdamW);

export { SimdAdam, SimdAdamW };
export type { SimdAdamOptions } from './options.js';
export type { NamedTensor } from './weights.js';
