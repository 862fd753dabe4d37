/** The guarantees users rely on: skipping, freezing, the zero-grad trap, groups, state views. */
import { describe, expect, it, vi } from 'vitest';

import { Adam, AdamW, Parameter, SimdAdamError } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { adamScalars, adamStepReference } from '../src/reference/adam.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';
import { f32State } from './support/float32_state.js';

function param(n: number, seed: number, name?: string): Parameter {
  return new Parameter(fillValues(new Float32Array(n), rng(seed)), name === undefined ? undefined : { name });
}
function gradFor(p: Parameter, seed: number): Float32Array {
  return fillValues(new Float32Array(p.numel), rng(seed));
}

describe('a parameter whose grad is null', () => {
  it('is skipped bit for bit: no weight decay, no momentum, no step counted', () => {
    const a = param(37, 1, 'a');
    const b = param(37, 2, 'b');
    const opt = new Adam([a, b], { lr: 0.1, weightDecay: 0.5 });
    a.grad = gradFor(a, 3);
    b.grad = gradFor(b, 4);
    opt.step();
    b.grad = null;
    const before = snapshot(opt, [b]);
    for (let k = 0; k < 5; k++) {
      a.grad = gradFor(a, 10 + k);
      opt.step();
    }
    expectUnchanged(opt, [b], before);
    expect(f32State(opt.state.get(a)).step).toBe(6);
  });

  it('never gets state when it has never had a grad', () => {
    const a = param(8, 1);
    const b = param(8, 2);
    const opt = new Adam([a, b]);
    a.grad = gradFor(a, 3);
    opt.step();
    expect(opt.state.has(b)).toBe(false);
  });
});

describe('a frozen parameter (requiresGrad = false)', () => {
  it('is never touched by step(), whatever its grad holds', () => {
    const a = param(20, 1);
    const frozen = param(20, 2);
    const opt = new AdamW([a, frozen], { lr: 0.1, weightDecay: 0.3 });
    a.grad = gradFor(a, 3);
    frozen.grad = gradFor(frozen, 4);
    opt.step();
    frozen.requiresGrad = false;
    frozen.grad = gradFor(frozen, 5);
    const before = snapshot(opt, [frozen]);
    a.grad = gradFor(a, 6);
    opt.step();
    expectUnchanged(opt, [frozen], before);
  });

  it('has its grad cleared by zeroGrad, even with setToNone: false', () => {
    const a = param(4, 1);
    const frozen = new Parameter(new Float32Array(4), { requiresGrad: false });
    const opt = new Adam([a, frozen]);
    a.grad = gradFor(a, 2);
    frozen.grad = new Float32Array(4).fill(1);
    const grad = a.grad;
    opt.zeroGrad({ setToNone: false });
    expect(frozen.grad).toBeNull();
    expect(a.grad).toBe(grad);
    expect([...a.grad!]).toEqual([0, 0, 0, 0]);
  });
});

describe('the frozen-parameter trap stays reproducible', () => {
  it('a zero-filled grad still moves the parameter through coupled weight decay', () => {
    const p = param(16, 1);
    const opt = new Adam([p], { lr: 0.01, weightDecay: 0.1 });
    p.grad = new Float32Array(16);
    const before = p.data.slice();
    opt.step();
    expect(firstBitDifference(p.data, before)).not.toBeNull();
    expect(f32State(opt.state.get(p)).step).toBe(1);
  });

  it('a zero-filled grad still moves the parameter through leftover momentum', () => {
    const p = param(16, 1);
    const opt = new Adam([p], { lr: 0.01 });
    p.grad = gradFor(p, 2);
    opt.step();
    opt.zeroGrad({ setToNone: false });
    const before = p.data.slice();
    opt.step();
    expect(firstBitDifference(p.data, before)).not.toBeNull();
  });

  it('zeroGrad() sets grads to null by default, so the next step skips them', () => {
    const p = param(16, 1);
    const opt = new Adam([p], { lr: 0.01, weightDecay: 0.1 });
    p.grad = gradFor(p, 2);
    opt.step();
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    const before = snapshot(opt, [p]);
    opt.step();
    expectUnchanged(opt, [p], before);
  });
});

describe('param groups', () => {
  it('override every hyperparameter per group, each group stepping as its own optimizer would', () => {
    const overrides = [
      { lr: 0.05 },
      { betas: [0.5, 0.9] as [number, number] },
      { eps: 1e-3 },
      { weightDecay: 0.2 },
      { amsgrad: true },
      { maximize: true },
      { decoupledWeightDecay: true, weightDecay: 0.1 },
    ];
    const together = overrides.map((_, i) => param(19, i));
    const apart = together.map((p) => new Parameter(p.data.slice()));
    const opt = new Adam(overrides.map((o, i) => ({ params: [together[i]!], ...o })), { lr: 0.01 });
    const singles = overrides.map((o, i) => new Adam([apart[i]!], { lr: 0.01, ...o }));
    for (let s = 0; s < 3; s++) {
      together.forEach((p, i) => (p.grad = gradFor(p, 100 * s + i)));
      apart.forEach((p, i) => (p.grad = gradFor(p, 100 * s + i)));
      opt.step();
      singles.forEach((o) => o.step());
    }
    together.forEach((p, i) => expect(firstBitDifference(p.data, apart[i]!.data), `group ${i}`).toBeNull());
  });

  it('take hyperparameter changes on the next step', () => {
    const p = param(9, 1);
    const opt = new Adam([p], { lr: 0.01 });
    p.grad = gradFor(p, 2);
    opt.step();
    const state = f32State(opt.state.get(p));
    const expected = { data: p.data.slice(), m: state.expAvg.slice(), v: state.expAvgSq.slice() };
    opt.paramGroups[0]!.lr = 0.5;
    opt.paramGroups[0]!.betas = [0.8, 0.99];
    p.grad = gradFor(p, 3);
    adamStepReference(expected.data, p.grad, expected.m, expected.v, null, adamScalars(
      { lr: 0.5, beta1: 0.8, beta2: 0.99, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupledWeightDecay: false }, 2));
    opt.step();
    expect(firstBitDifference(p.data, expected.data)).toBeNull();
  });

  it('addParamGroup fills unspecified hyperparameters from the defaults', () => {
    const opt = new Adam([param(3, 1)], { lr: 0.02, weightDecay: 0.1 });
    opt.addParamGroup({ params: [param(3, 2)], lr: 0.5 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.5, weightDecay: 0.1, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false });
    expect(opt.paramGroups[1]!.betas).not.toBe(opt.paramGroups[0]!.betas);
  });

  it('cannot have their params replaced or extended in place', () => {
    const opt = new Adam([param(3, 1)]);
    const group = opt.paramGroups[0]!;
    expect(() => ((group as { params: unknown }).params = [])).toThrow(expect.objectContaining({ code: 'ERR_PARAM_GROUP' }));
    expect(() => (group.params as Parameter[]).push(param(3, 2))).toThrow(TypeError);
    expect(() => (opt.paramGroups as unknown[]).push({})).toThrow(TypeError);
  });

  it('all step in one native crossing, however many groups and parameters', () => {
    const params = Array.from({ length: 50 }, (_, i) => param(5 + i, i));
    const opt = new Adam([{ params: params.slice(0, 20) }, { params: params.slice(20), amsgrad: true }]);
    params.forEach((p, i) => (p.grad = gradFor(p, i)));
    const spy = vi.spyOn(addon, 'run');
    const rebuild = vi.spyOn(addon, 'prepare');
    try {
      opt.step();
      opt.step();
      expect(spy.mock.calls.length + rebuild.mock.calls.length).toBe(2);
    } finally {
      spy.mockRestore();
      rebuild.mockRestore();
    }
  });
});

describe('optimizer state', () => {
  it('hands out views that never move and that write through to the optimizer', () => {
    const a = param(10, 1);
    const b = param(12, 2);
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = gradFor(a, 3);
    opt.step();
    const view = f32State(opt.state.get(a)).expAvg;
    b.grad = gradFor(b, 4);
    for (let k = 0; k < 3; k++) opt.step();
    expect(f32State(opt.state.get(a)).expAvg).toBe(view);
    const stateA = f32State(opt.state.get(a));
    stateA.expAvg.fill(0);
    stateA.expAvgSq.fill(0);
    const frozenData = a.data.slice();
    a.grad = new Float32Array(10);
    opt.step();
    // Zero moments and a zero grad: the update is exactly 0/(0+eps)·step = 0.
    expect(firstBitDifference(a.data, frozenData)).toBeNull();
  });

  it('allocates the state of parameters that start together in one buffer', () => {
    const ps = [param(5, 1), param(7, 2), param(0, 3)];
    const opt = new Adam([ps[0]!, ps[1]!, ps[2]!], { amsgrad: true });
    ps.forEach((p, i) => (p.grad = gradFor(p, i)));
    opt.step();
    const buffers = new Set(ps.flatMap((p) => {
      const s = f32State(opt.state.get(p));
      return [s.expAvg.buffer, s.expAvgSq.buffer, s.maxExpAvgSq!.buffer];
    }));
    expect(buffers.size).toBe(1);
  });

  it('refuses to switch amsgrad on for a group that already has state', () => {
    const p = param(4, 1);
    const opt = new Adam([p]);
    p.grad = gradFor(p, 2);
    opt.step();
    opt.paramGroups[0]!.amsgrad = true;
    const before = snapshot(opt, [p]);
    expect(() => opt.step()).toThrow(SimdAdamError);
    expectUnchanged(opt, [p], before);
  });
});

describe('AdamW', () => {
  it('is Adam with decoupled weight decay and a default weightDecay of 1e-2', () => {
    const a = param(33, 1);
    const b = new Parameter(a.data.slice());
    const w = new AdamW([a], { lr: 0.01 });
    const adam = new Adam([b], { lr: 0.01, weightDecay: 1e-2, decoupledWeightDecay: true });
    expect(w.paramGroups[0]).toMatchObject({ weightDecay: 1e-2, decoupledWeightDecay: true });
    for (let s = 0; s < 4; s++) {
      a.grad = gradFor(a, s);
      b.grad = gradFor(b, s);
      w.step();
      adam.step();
    }
    expect(firstBitDifference(a.data, b.data)).toBeNull();
  });

  it('does not take a decoupledWeightDecay option: it is always decoupled', () => {
    expect(() => new AdamW([param(2, 1)], { decoupledWeightDecay: false } as never)).toThrow(TypeError);
  });
});

describe('odd shapes', () => {
  it('steps 0-d, empty and one-element parameters', () => {
    const scalar = new Parameter(new Float32Array([0.5]), { shape: [] });
    const empty = new Parameter(new Float32Array(0), { shape: [2, 0, 3] });
    const opt = new Adam([scalar, empty], { weightDecay: 0.1 });
    scalar.grad = new Float32Array([1]);
    empty.grad = new Float32Array(0);
    opt.step();
    expect(f32State(opt.state.get(empty)).step).toBe(1);
    expect(scalar.data[0]).not.toBe(0.5);
  });
});
