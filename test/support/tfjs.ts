/** tfjs for the simd-adam/tfjs tests: the cpu and wasm backends, offline, single-threaded,
 * and the small models and data the tests train. */
import * as tf from '@tensorflow/tfjs';

import { loadTfjs } from '../../examples/tfjs/model.js';

export { tf };
export type Backend = 'cpu' | 'wasm';
export const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];

export async function useBackend(name: Backend): Promise<void> {
  await loadTfjs(name);
}

/** A dense model 8 → 16 (relu) → 4, its weights drawn from `seed`. */
export function denseModel(seed: number): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 16, activation: 'relu', inputShape: [8], kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 0.1 }) }));
  model.add(tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return model;
}

/** Fixed batches of 32 inputs and regression targets. */
export function batches(count: number, seed: number): Array<{ x: tf.Tensor2D; y: tf.Tensor2D }> {
  return Array.from({ length: count }, (_, i) => ({
    x: tf.randomNormal([32, 8], 0, 1, 'float32', seed + 2 * i) as tf.Tensor2D,
    y: tf.randomNormal([32, 4], 0, 1, 'float32', seed + 2 * i + 1) as tf.Tensor2D,
  }));
}

export function mse(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
}

/** The model's trainable variables. */
export function variablesOf(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Copies of the model's weight values, in order. */
export function valuesOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

/** max |a − b| over max |b|, across all arrays. */
export function relativeError(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((x, k) => {
    const y = b[k]!;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(y[i]!));
    }
  });
  return diff / scale;
}
