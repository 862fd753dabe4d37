/** Runs in a worker: steps a Parameter over the SharedArrayBuffers it was given with
 * stepAsync(), back to back, until the parent sets control[0]. */
import { parentPort, workerData } from 'node:worker_threads';

import { Adam, Parameter } from '../../src/index.js';

const { data, grad, control, n } = workerData as { data: SharedArrayBuffer; grad: SharedArrayBuffer; control: SharedArrayBuffer; n: number };
const p = new Parameter(new Float32Array(data, 0, n));
p.grad = new Float32Array(grad, 0, n);
const opt = new Adam([p], { lr: 1e-3 });
const stop = new Int32Array(control);
parentPort!.postMessage('started');
while (Atomics.load(stop, 0) === 0) {
  try {
    await opt.stepAsync();
  } catch (error) {
    // The parent's clipGradNorm held the grads for a moment: wait for it, as a caller should.
    if ((error as { code?: string }).code !== 'ERR_BUSY') throw error;
    await opt.whenIdle();
  }
}
