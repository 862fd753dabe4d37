/** simd-adam/tfjs: getWeights/setWeights in tfjs's layout, model.save with the optimizer,
 * getConfig/fromConfig and the serialization registry. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SimdAdam, SimdAdamW } from '../src/tfjs/index.js';
import type { NamedTensor } from '../src/tfjs/weights.js';
import { firstBitDifference } from './support/compare.js';
import { batches, denseModel, mse, relativeError, tf, useBackend, valuesOf, variablesOf } from './support/tfjs.js';

const values = (t: tf.Tensor) => Float32Array.from(t.dataSync());

function train(model: tf.LayersModel, opt: tf.Optimizer, data: ReturnType<typeof batches>): void {
  for (const { x, y } of data) opt.minimize(() => mse(model, x, y), false, variablesOf(model));
}

/** What model.save() writes, kept in memory. */
async function saved(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return artifacts!;
}

beforeAll(() => useBackend('cpu'));
afterEach(() => tf.disposeVariables());

describe('getWeights()', () => {
  it("lists iter, then every variable's m, then every v, holding the optimizer's state", async () => {
    const model = denseModel(2);
    const opt = new SimdAdam({ lr: 0.01 });
    train(model, opt, batches(3, 1));
    const weights = await opt.getWeights();
    const names = variablesOf(model).map((v) => v.name);
    expect(weights.map((w) => w.name)).toEqual(['iter', ...names.map((n) => `${n}/m`), ...names.map((n) => `${n}/v`)]);
    expect(weights[0]!.tensor.dtype).toBe('int32');
    expect(weights[0]!.tensor.dataSync()[0]).toBe(3);
    weights.slice(1).forEach((w, i) => expect(w.tensor.shape).toEqual(variablesOf(model)[i % names.length]!.shape));
    // Second moments are squares' averages: non-negative, and not all zero after three steps.
    expect(weights.slice(1 + names.length).every((w) => w.tensor.dataSync().every((x) => x >= 0))).toBe(true);
    expect(weights.slice(1 + names.length).some((w) => w.tensor.dataSync().some((x) => x > 0))).toBe(true);
  });

  it('adds <var>/vhat with amsgrad', async () => {
    const v = tf.variable(tf.ones([3]), true, 'v');
    const opt = new SimdAdamW({ amsgrad: true });
    opt.minimize(() => tf.sum(tf.square(v)));
    expect((await opt.getWeights()).map((w) => w.name)).toEqual(['iter', 'v/m', 'v/v', 'v/vhat']);
  });

  it('owns the tensors it returns until the next call: saving repeatedly leaks nothing', async () => {
    const model = denseModel(2);
    const opt = new SimdAdam();
    train(model, opt, batches(1, 1));
    await opt.getWeights();
    const tensors = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) await opt.getWeights();
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

describe('setWeights()', () => {
  it('restores the state bit for bit: training continues as if never interrupted', async () => {
    const [a, b] = [denseModel(4), denseModel(4)];
    const [first, second] = [batches(5, 10), batches(5, 20)];
    const straight = new SimdAdamW({ lr: 0.01 });
    train(a, straight, first);
    train(a, straight, second);
    const before = new SimdAdamW({ lr: 0.01 });
    train(b, before, first);
    const resumed = new SimdAdamW({ lr: 0.01 });
    await resumed.setWeights(await before.getWeights());
    expect(resumed.iterations).toBe(5);
    train(b, resumed, second);
    valuesOf(a).forEach((x, i) => expect(firstBitDifference(x, valuesOf(b)[i]!)).toBeNull());
  });

  it("loads tf.train.adam's state: switching optimizers mid-training keeps the moments", async () => {
    const [a, b] = [denseModel(6), denseModel(6)];
    const [first, second] = [batches(10, 30), batches(10, 40)];
    const adam = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    train(a, adam, first);
    const other = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    train(b, other, first);
    const simd = new SimdAdam({ lr: 0.01, eps: 1e-7 });
    await simd.setWeights(await other.getWeights());
    train(a, adam, second);
    train(b, simd, second);
    expect(relativeError(valuesOf(b), valuesOf(a))).toBeLessThan(2e-3);
    // Starting the moments from zero instead makes a visible difference: the state did matter.
    const c = denseModel(6);
    train(c, tf.train.adam(0.01, 0.9, 0.999, 1e-7), first);
    train(c, new SimdAdam({ lr: 0.01, eps: 1e-7 }), second);
    expect(relativeError(valuesOf(c), valuesOf(a))).toBeGreaterThan(1e-2);
  });

  it('refuses malformed weights and changes nothing', async () => {
    const v = tf.variable(tf.ones([3]), true, 'v');
    const opt = new SimdAdam();
    opt.minimize(() => tf.sum(tf.square(v)));
    const good = await opt.getWeights();
    const m = good.find((w) => w.name === 'v/m')!.tensor;
    const mBefore = values(m);
    const iter = good[0]!;
    const cases: Array<[NamedTensor[] | unknown, RegExp]> = [
      [[{ name: 'v/m', tensor: m }], /no 'iter'/],
      [[iter, { name: 'v/m', tensor: m }], /no 'v\/v'/],
      [[iter, { name: 'v/m', tensor: m }, { name: 'v/v', tensor: tf.ones([4]) }], /shape \[4\]/],
      [[iter, { name: 'v/q', tensor: m }], /not iter/],
      [[iter, { name: 'v/m', tensor: m }, { name: 'v/v', tensor: m }, { name: 'v/vhat', tensor: m }], /amsgrad is off/],
      ['nope', /expected an array/],
    ];
    for (const [weights, message] of cases) {
      await expect(opt.setWeights(weights as NamedTensor[])).rejects.toThrow(expect.objectContaining({ code: 'ERR_STATE_DICT', message: expect.stringMatching(message) }));
    }
    expect(opt.iterations).toBe(1);
    expect(firstBitDifference(values((await opt.getWeights()).find((w) => w.name === 'v/m')!.tensor), mBefore)).toBeNull();
  });
});

describe('loaded state matched to variables', () => {
  it('by position when the names differ, and refuses a step whose variables do not fit, changing nothing', async () => {
    const [a, b] = [tf.variable(tf.ones([3]), true, 'a'), tf.variable(tf.ones([2]), true, 'b')];
    const source = new SimdAdam({ lr: 0.1 });
    source.minimize(() => tf.add(tf.sum(tf.square(a)), tf.sum(b)));
    const weights = await source.getWeights();
    const [c, d] = [tf.variable(tf.tensor(values(a)), true, 'c'), tf.variable(tf.tensor(values(b)), true, 'd')];
    const target = new SimdAdam({ lr: 0.1 });
    await target.setWeights(weights);
    const g = tf.ones([3]);
    expect(() => target.applyGradients({ c: g })).toThrow(expect.objectContaining({ code: 'ERR_STATE_DICT', message: expect.stringMatching(/lists 1 variables/) }));
    expect(() => target.applyGradients([{ name: 'd', tensor: tf.ones([2]) }, { name: 'c', tensor: g }])).toThrow(expect.objectContaining({ code: 'ERR_STATE_DICT', message: expect.stringMatching(/'a\/?.*3 elements but variable 'd' has 2/) }));
    expect(firstBitDifference(values(c), values(a))).toBeNull();
    target.minimize(() => tf.add(tf.sum(tf.square(c)), tf.sum(d)));
    source.minimize(() => tf.add(tf.sum(tf.square(a)), tf.sum(b)));
    expect(firstBitDifference(values(c), values(a))).toBeNull();
    expect(firstBitDifference(values(d), values(b))).toBeNull();
    g.dispose();
  });
});

describe('model.save({ includeOptimizer: true })', () => {
  it('round-trips SimdAdamW: the loaded model has it, with its config and state, and trains on identically', async () => {
    const model = denseModel(8);
    const opt = new SimdAdamW({ lr: 0.02, weightDecay: 0.05, betas: [0.8, 0.99] });
    model.compile({ optimizer: opt, loss: 'meanSquaredError' });
    const x = tf.randomNormal([64, 8], 0, 1, 'float32', 1);
    const y = tf.randomNormal([64, 4], 0, 1, 'float32', 2);
    await model.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(await saved(model)));
    expect(loaded.optimizer).toBeInstanceOf(SimdAdamW);
    expect(loaded.optimizer.getConfig()).toEqual(opt.getConfig());
    // In this process the loaded variables have new names: the state is matched by position.
    expect(variablesOf(loaded).map((v) => v.name)).not.toEqual(variablesOf(model).map((v) => v.name));
    await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    valuesOf(model).forEach((w, i) => expect(firstBitDifference(w, valuesOf(loaded)[i]!)).toBeNull());
    tf.dispose([x, y]);
  });
});

describe('serialization', () => {
  it('registers both classes, and getConfig()/fromConfig() rebuild an equal optimizer', () => {
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const [Cls, options] of [[SimdAdam, { lr: 0.5, eps: 1e-7, amsgrad: true }], [SimdAdamW, { weightDecay: 0.3, maximize: true }]] as const) {
      expect(map[Cls.className]?.[0]).toBe(Cls);
      const opt = new Cls(options);
      const copy = Cls.fromConfig(Cls, opt.getConfig());
      expect(copy).toBeInstanceOf(Cls);
      expect(copy.getConfig()).toEqual(opt.getConfig());
    }
    expect(new SimdAdam().getConfig()).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    expect(new SimdAdamW().getConfig()).toMatchObject({ weightDecay: 1e-2 });
  });
});
