/** simd-adam/tfjs on a backend it does not read in place (tfjs-node's `tensorflow`, webgl, ...):
 * values are copied in and written back as new tensors. tfjs-node cannot be installed here, so
 * the path runs on the cpu backend's kernels registered under another name, which the adapter
 * sees as just another backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Adam, Parameter } from '../src/index.js';
import { SimdAdam } from '../src/tfjs/index.js';
import { firstBitDifference } from './support/compare.js';
import { batches, denseModel, mse, tf, useBackend, variablesOf } from './support/tfjs.js';

const NAME = 'copy-path-test';

describe('the copy path', () => {
  beforeAll(async () => {
    await useBackend('cpu');
    const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
    tf.registerBackend(NAME, () => new Cpu());
    for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: NAME });
    await tf.setBackend(NAME);
  });
  afterAll(async () => {
    tf.disposeVariables();
    await tf.setBackend('cpu');
    tf.removeBackend(NAME);
  });

  it('moves the variables bit for bit as simd-adam does, writing each as a new tensor and leaking none', () => {
    expect(tf.getBackend()).toBe(NAME);
    const model = denseModel(21);
    const vars = variablesOf(model);
    const params = vars.map((v) => new Parameter(Float32Array.from(v.dataSync())));
    const core = new Adam(params, { lr: 0.01, weightDecay: 0.1 });
    const opt = new SimdAdam({ lr: 0.01, weightDecay: 0.1 });
    const data = batches(20, 3);
    let tensors = 0;
    data.forEach(({ x, y }, k) => {
      const ids = vars.map((v) => v.dataId);
      const { value, grads } = tf.variableGrads(() => mse(model, x, y), vars);
      vars.forEach((v, i) => (params[i]!.grad = Float32Array.from(grads[v.name]!.dataSync())));
      opt.applyGradients(grads);
      core.step();
      tf.dispose([value, ...Object.values(grads)]);
      vars.forEach((v, i) => expect(v.dataId).not.toBe(ids[i]));
      if (k === 1) tensors = tf.memory().numTensors;
      if (k > 1) expect(tf.memory().numTensors).toBe(tensors);
    });
    vars.forEach((v, i) => expect(firstBitDifference(Float32Array.from(v.dataSync()), params[i]!.data)).toBeNull());
  });

  it('reads a variable again after someone else assigned it', () => {
    const v = tf.variable(tf.zeros([3]), true, 'assigned');
    const opt = new SimdAdam({ lr: 0.5 });
    const g = tf.ones([3]);
    opt.applyGradients({ assigned: g });
    const ten = tf.fill([3], 10);
    v.assign(ten);
    ten.dispose();
    opt.applyGradients({ assigned: g });
    // From 10, not from -0.5: the second step started from the assigned values.
    expect(v.dataSync()[0]).toBeGreaterThan(9);
    g.dispose();
  });
});
