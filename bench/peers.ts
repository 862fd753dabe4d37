/** What simd-adam is measured against, on the same data: a plain JavaScript loop (what a user
 * would write), and @tensorflow/tfjs's Adam on its cpu and wasm backends, both offline from
 * their npm packages. All three are single-threaded. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

import type { Parameter } from '../src/index.js';

/** A plain Adam step over Float32Arrays: double arithmetic, bias corrections per step. */
export function plainJsStep(params: readonly Parameter[]): () => void {
  const state = params.map((p) => ({ m: new Float32Array(p.numel), v: new Float32Array(p.numel) }));
  const lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  let step = 0;
  return () => {
    step++;
    const stepSize = lr / (1 - Math.pow(beta1, step));
    const bc2 = Math.sqrt(1 - Math.pow(beta2, step));
    for (let k = 0; k < params.length; k++) {
      const p = params[k]!.data, g = params[k]!.grad!, { m, v } = state[k]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * gi);
        const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi);
        p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vi) / bc2 + eps);
      }
    }
  };
}

type Tf = typeof import('@tensorflow/tfjs');

let tfPromise: Promise<Tf> | undefined;

/** tfjs with its wasm binaries read from node_modules (no network), single-threaded. */
export function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return tf;
  })();
  return tfPromise;
}

/** tf.train.adam over one variable per parameter on `backend`; returns a step, and a disposer. */
export async function tfjsStep(backend: 'cpu' | 'wasm', params: readonly Parameter[]): Promise<{ step: () => void; dispose: () => void }> {
  const tf = await loadTf();
  await tf.setBackend(backend);
  const variables = params.map((p) => tf.variable(tf.tensor1d(p.data)));
  const grads: Record<string, import('@tensorflow/tfjs').Tensor> = Object.fromEntries(variables.map((v, i) => [v.name, tf.tensor1d(params[i]!.grad!)]));
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return {
    step: () => optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]),
    dispose: () => {
      optimizer.dispose();
      variables.forEach((v) => v.dispose());
      Object.values(grads).forEach((g) => g.dispose());
    },
  };
}
