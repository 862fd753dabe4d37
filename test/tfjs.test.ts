/** simd-adam/tfjs against tf.train.adam and against simd-adam's own Adam/AdamW, on the cpu and
 * wasm backends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, Parameter } from '../src/index.js';
import { SimdAdam, SimdAdamW } from '../src/tfjs/index.js';
import { firstBitDifference } from './support/compare.js';
import { BACKENDS, batches, denseModel, mse, relativeError, tf, useBackend, valuesOf, variablesOf } from './support/tfjs.js';

describe.each(BACKENDS)('on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));
  const data = () => batches(30, 7);
  afterAll(() => tf.disposeVariables());

  it('SimdAdam({ eps: 1e-7 }) follows tf.train.adam(lr, 0.9, 0.999, 1e-7) within 2e-3 over 30 steps', () => {
    const ours = denseModel(1);
    const theirs = denseModel(1);
    expect(relativeError(valuesOf(ours), valuesOf(theirs))).toBe(0);
    const simd = new SimdAdam({ lr: 0.01, eps: 1e-7 });
    const adam = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (const { x, y } of data()) {
      simd.minimize(() => mse(ours, x, y), false, variablesOf(ours));
      adam.minimize(() => mse(theirs, x, y), false, variablesOf(theirs));
    }
    const error = relativeError(valuesOf(ours), valuesOf(theirs));
    expect(error).toBeLessThan(2e-3);
    // The models did move: the comparison is not between two untouched copies.
    expect(relativeError(valuesOf(ours), valuesOf(denseModel(1)))).toBeGreaterThan(1e-2);
  });

  for (const [Tfjs, Core, options] of [
    [SimdAdam, Adam, { lr: 0.02, weightDecay: 0.1, eps: 1e-7 }],
    [SimdAdamW, AdamW, { lr: 0.02, weightDecay: 0.1, amsgrad: true }],
  ] as const) {
    it(`${Tfjs.name} moves the variables bit for bit as simd-adam's ${Core.name} does with the same gradients`, () => {
      const model = denseModel(3);
      const vars = variablesOf(model);
      const params = vars.map((v) => new Parameter(Float32Array.from(v.dataSync()), { shape: v.shape }));
      const core = new Core(params, options);
      const opt = new Tfjs(options);
      for (const { x, y } of data()) {
        const { value, grads } = tf.variableGrads(() => mse(model, x, y), vars);
        vars.forEach((v, i) => (params[i]!.grad = Float32Array.from(grads[v.name]!.dataSync())));
        opt.applyGradients(grads);
        core.step();
        tf.dispose([value, ...Object.values(grads)]);
      }
      vars.forEach((v, i) => expect(firstBitDifference(v.dataSync() as Float32Array, params[i]!.data)).toBeNull());
    });
  }

  it('trains a model with model.fit as well as tf.train.adam does', async () => {
    const losses: Record<string, number> = {};
    for (const [name, optimizer] of [['simd', new SimdAdam({ lr: 0.01, eps: 1e-7 })], ['tfjs', tf.train.adam(0.01)]] as const) {
      const model = denseModel(5);
      model.compile({ optimizer, loss: 'meanSquaredError' });
      const x = tf.randomNormal([256, 8], 0, 1, 'float32', 11);
      const y = tf.tidy(() => tf.matMul(x, tf.randomNormal([8, 4], 0, 1, 'float32', 12)));
      const history = await model.fit(x, y, { epochs: 5, batchSize: 32, shuffle: false, verbose: 0 });
      losses[name] = history.history.loss!.at(-1) as number;
      expect(history.history.loss![0] as number).toBeGreaterThan(losses[name]! * 1.5);
      tf.dispose([x, y]);
    }
    expect(Math.abs(losses.simd! - losses.tfjs!) / losses.tfjs!).toBeLessThan(2e-3);
  });
});
