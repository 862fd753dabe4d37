/** simd-adam/tfjs: what moves and what does not, tfjs's memory management, the ways of calling
 * an optimizer, and bad input. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Adam, Parameter } from '../src/index.js';
import { SimdAdam, SimdAdamW } from '../src/tfjs/index.js';
import { firstBitDifference } from './support/compare.js';
import { BACKENDS, batches, denseModel, mse, tf, useBackend, variablesOf } from './support/tfjs.js';

const values = (t: tf.Tensor) => Float32Array.from(t.dataSync());
const grad = (n: number, seed: number) => tf.randomNormal([n], 0, 1, 'float32', seed);

describe.each(BACKENDS)('on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));
  afterEach(() => tf.disposeVariables());

  it('skips a variable missing from the gradients like grad = null: no weight decay, no momentum, no state', async () => {
    const a = tf.variable(grad(40, 1), true, 'a');
    const b = tf.variable(grad(40, 2), true, 'b');
    const pa = new Parameter(values(a));
    const pb = new Parameter(values(b));
    const core = new Adam([pa, pb], { lr: 0.05, weightDecay: 0.5 });
    const opt = new SimdAdam({ lr: 0.05, weightDecay: 0.5 });
    for (let k = 0; k < 6; k++) {
      const ga = grad(40, 10 + k);
      const gb = grad(40, 20 + k);
      // b gets a gradient at steps 0 and 4 only: absent from the map, or null in the list.
      const withB = k === 0 || k === 4;
      if (k % 2 === 0) opt.applyGradients(withB ? { a: ga, b: gb } : { a: ga });
      else opt.applyGradients([{ name: 'a', tensor: ga }, { name: 'b', tensor: null as unknown as tf.Tensor }]);
      pa.grad = values(ga);
      pb.grad = withB ? values(gb) : null;
      core.step();
      if (k === 1) expect(firstBitDifference(values(b), pb.data)).toBeNull();
      tf.dispose([ga, gb]);
    }
    expect(firstBitDifference(values(a), pa.data)).toBeNull();
    expect(firstBitDifference(values(b), pb.data)).toBeNull();
    const weights = await opt.getWeights();
    // b was stepped twice in six iterations: its own count travels with its state.
    expect(weights.find((w) => w.name === 'b/step')!.tensor.dataSync()[0]).toBe(2);
    expect(weights.find((w) => w.name === 'a/step')).toBeUndefined();
  });

  it('never moves a variable with trainable: false, even when handed a gradient', async () => {
    const frozen = tf.variable(grad(16, 3), false, 'frozen');
    const live = tf.variable(grad(16, 4), true, 'live');
    const before = values(frozen);
    const opt = new SimdAdamW({ lr: 0.1, weightDecay: 0.5 });
    for (let k = 0; k < 3; k++) {
      const g = grad(16, 30 + k);
      opt.applyGradients({ frozen: g, live: g });
      opt.minimize(() => tf.sum(tf.mul(frozen, live)));
      g.dispose();
    }
    expect(firstBitDifference(values(frozen), before)).toBeNull();
    expect((await opt.getWeights()).map((w) => w.name)).toEqual(['iter', 'live/m', 'live/v']);
  });

  it('a step in which nothing moves (only frozen variables, only null gradients) changes nothing and keeps the state', async () => {
    const frozen = tf.variable(grad(16, 5), false, 'frozen');
    const live = tf.variable(grad(16, 6), true, 'live');
    const opt = new SimdAdamW({ lr: 0.1, weightDecay: 0.5 });
    const g = grad(16, 40);
    opt.applyGradients({ live: g });
    const before = [values(frozen), values(live)];
    const state = (await opt.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    opt.applyGradients({ frozen: g });
    opt.applyGradients([{ name: 'live', tensor: null as unknown as tf.Tensor }]);
    expect(firstBitDifference(values(frozen), before[0]!)).toBeNull();
    expect(firstBitDifference(values(live), before[1]!)).toBeNull();
    // iterations counts applyGradients calls, as in tfjs; live's own step count stays 1 (so it
    // now differs from iter, and getWeights() adds live/step).
    const after = (await opt.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    const moments = (w: Array<[string, number[]]>) => w.filter(([n]) => n.endsWith('/m') || n.endsWith('/v'));
    expect(moments(after as Array<[string, number[]]>)).toEqual(moments(state as Array<[string, number[]]>));
    expect(after.find(([n]) => n === 'live/step')![1]).toEqual([1]);
    // The next real step continues from the kept state, as simd-adam's Adam does.
    const pl = new Parameter(before[1]!.slice());
    const core = new Adam([pl], { lr: 0.1, weightDecay: 0.5, decoupledWeightDecay: true });
    core.loadStateDict({ state: { 0: { step: 1, exp_avg: Float32Array.from(state[1]![1] as number[]), exp_avg_sq: Float32Array.from(state[2]![1] as number[]) } }, param_groups: [{ ...core.stateDict().param_groups[0]! }] });
    opt.applyGradients({ live: g });
    pl.grad = values(g);
    core.step();
    expect(firstBitDifference(values(live), pl.data)).toBeNull();
    g.dispose();
  });

  it('leaks no tensor and keeps each variable in its storage over 1000 steps', () => {
    const model = denseModel(9);
    const opt = new SimdAdamW({ lr: 1e-3 });
    const { x, y } = batches(1, 3)[0]!;
    const vars = variablesOf(model);
    opt.minimize(() => mse(model, x, y), false, vars);
    const tensors = tf.memory().numTensors;
    const ids = vars.map((v) => v.dataId);
    for (let k = 0; k < 1000; k++) opt.minimize(() => mse(model, x, y), false, vars);
    expect(tf.memory().numTensors).toBe(tensors);
    // Written in place: no variable was given new data by any of those steps.
    vars.forEach((v, i) => expect(v.dataId).toBe(ids[i]));
    tf.dispose([x, y]);
  });

  it('leaves a clone, and a tensor the variable was made from, at their old values', () => {
    const init = grad(12, 5);
    const v = tf.variable(init, true, 'v');
    const clone = tf.clone(v);
    const [initBefore, cloneBefore] = [values(init), values(clone)];
    const opt = new SimdAdam({ lr: 0.1 });
    const g = grad(12, 6);
    opt.applyGradients({ v: g });
    expect(firstBitDifference(values(init), initBefore)).toBeNull();
    expect(firstBitDifference(values(clone), cloneBefore)).toBeNull();
    expect(firstBitDifference(values(v), initBefore)).not.toBeNull();
    tf.dispose([init, clone, g]);
  });

  it('gives the same bits through a { name: grad } map, a list of { name, tensor } and minimize(f, true, varList)', () => {
    const make = (tag: string) => [tf.variable(grad(10, 7), true, `${tag}w`), tf.variable(grad(3, 8), true, `${tag}b`)] as const;
    const [mw, mb] = make('map');
    const [lw, lb] = make('list');
    const [fw, fb] = make('fit');
    const other = tf.variable(grad(3, 9), true, 'other');
    const otherBefore = values(other);
    const [om, ol, of] = [new SimdAdam({ lr: 0.01 }), new SimdAdam({ lr: 0.01 }), new SimdAdam({ lr: 0.01 })];
    const loss = (w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.add(tf.sum(tf.square(w)), tf.mul(b, other)));
    for (let k = 0; k < 5; k++) {
      const g1 = tf.variableGrads(() => loss(mw, mb) as tf.Scalar, [mw, mb]);
      om.applyGradients(g1.grads);
      const g2 = tf.variableGrads(() => loss(lw, lb) as tf.Scalar, [lw, lb]);
      ol.applyGradients([{ name: lb.name, tensor: g2.grads[lb.name]! }, { name: lw.name, tensor: g2.grads[lw.name]! }]);
      const cost = of.minimize(() => loss(fw, fb) as tf.Scalar, true, [fw, fb])!;
      expect(cost.dataSync()[0]).toBe(g1.value.dataSync()[0]);
      tf.dispose([g1.value, g2.value, cost, ...Object.values(g1.grads), ...Object.values(g2.grads)]);
    }
    for (const [a, b, c] of [[mw, lw, fw], [mb, lb, fb]] as const) {
      expect(firstBitDifference(values(a), values(b))).toBeNull();
      expect(firstBitDifference(values(a), values(c))).toBeNull();
    }
    expect(firstBitDifference(values(other), otherBefore)).toBeNull();
  });

  it.runIf(backend === 'wasm')('keeps training correctly when the wasm heap grows between steps (views are taken again)', () => {
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
    const first = heap();
    const v = tf.variable(grad(64, 11), true, 'v');
    const p = new Parameter(values(v));
    const core = new Adam([p], { lr: 0.01 });
    const opt = new SimdAdam({ lr: 0.01 });
    const hogs: tf.Tensor[] = [];
    for (let k = 0; k < 4; k++) {
      const g = grad(64, 40 + k);
      opt.applyGradients({ v: g });
      p.grad = values(g);
      core.step();
      g.dispose();
      hogs.push(tf.zeros([8 << 20])); // 32 MB each: more than the heap has to spare
    }
    expect(heap()).not.toBe(first);
    expect(firstBitDifference(values(v), p.data)).toBeNull();
    tf.dispose(hogs);
  });

  it('takes a new learning rate between steps, under its own name and tfjs\'s', () => {
    const v = tf.variable(tf.zeros([4]), true, 'v');
    const opt = new SimdAdam({ lr: 0.1 });
    const g = tf.ones([4]);
    opt.applyGradients({ v: g });
    expect(values(v)[0]).toBeCloseTo(-0.1, 6);
    opt.learningRate = 0.01;
    expect(opt.lr).toBe(0.01);
    opt.applyGradients({ v: g });
    expect(values(v)[0]).toBeCloseTo(-0.11, 6);
    g.dispose();
  });

  it('frees the state on dispose(): the next step starts afresh', async () => {
    const v = tf.variable(tf.zeros([4]), true, 'v');
    const opt = new SimdAdam({ lr: 0.1 });
    const g = tf.tensor1d([1, -2, 3, -4]);
    opt.applyGradients({ v: g });
    opt.applyGradients({ v: g });
    opt.dispose();
    expect((await opt.getWeights()).map((w) => w.name)).toEqual(['iter']);
    const before = values(v);
    opt.applyGradients({ v: g });
    // A fresh first step moves every element by lr exactly (m̂/√v̂ = ±1).
    values(v).forEach((x, i) => expect(x - before[i]!).toBeCloseTo(-0.1 * Math.sign(g.dataSync()[i]!), 6));
    g.dispose();
  });
});

describe('bad input', () => {
  beforeAll(() => useBackend('cpu'));
  afterEach(() => tf.disposeVariables());

  it('refuses bad options with the core\'s codes, naming the class', () => {
    expect(() => new SimdAdam({ lr: -1 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OPTION', message: expect.stringMatching(/^new SimdAdam\(\): lr/) }));
    expect(() => new SimdAdamW({ betas: [0.9] as unknown as [number, number] })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_OPTION' }));
    const opt = new SimdAdam({ lr: 0.1 });
    expect(() => (opt.learningRate = -1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OPTION', message: expect.stringMatching(/^SimdAdam\.lr: lr/) }));
    expect(opt.lr).toBe(0.1);
    expect(() => new SimdAdam({ epsilon: 1e-7 } as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_OPTION', message: expect.stringContaining("'epsilon'") }));
  });

  it.each([
    ['learningRate', 'lr'],
    ['beta1', 'betas: [beta1, beta2]'],
    ['beta2', 'betas: [beta1, beta2]'],
    ['epsilon', 'eps'],
  ])("points tf.train.adam's %s to %s", (key, meant) => {
    expect(() => new SimdAdam({ [key]: 0.5 } as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_OPTION', message: expect.stringContaining(`unknown option '${key}' (did you mean ${meant}?); expected one of lr,`) }),
    );
  });

  it('names an int32 gradient with "an"', () => {
    const v = tf.variable(tf.ones([3]), true, 'v');
    const ints = tf.ones([3], 'int32');
    expect(() => new SimdAdam().applyGradients({ v: ints })).toThrow(expect.objectContaining({ code: 'ERR_GRAD_TYPE', message: expect.stringContaining('got an int32 tensor') }));
    tf.dispose([v, ints]);
  });

  it('refuses a bad gradient before changing anything', () => {
    const v = tf.variable(tf.ones([3]), true, 'v');
    const w = tf.variable(tf.ones([3]), true, 'w');
    const opt = new SimdAdam();
    const good = tf.ones([3]);
    const wrong = tf.ones([4]);
    const ints = tf.ones([3], 'int32');
    expect(() => opt.applyGradients({ v: good, w: wrong })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_SHAPE' }));
    expect(() => opt.applyGradients({ v: good, w: ints })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_GRAD_TYPE' }));
    expect(() => opt.applyGradients({ v: good, nope: good })).toThrow(expect.objectContaining({ code: 'ERR_PARAM_TYPE', message: expect.stringContaining("'nope'") }));
    expect(() => opt.applyGradients([{ name: 'v', tensor: good }, { name: 'v', tensor: good }])).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_PARAM' }));
    expect(Array.from(v.dataSync())).toEqual([1, 1, 1]);
    expect(opt.iterations).toBe(0);
    tf.dispose([good, wrong, ints]);
  });
});
