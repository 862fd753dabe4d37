/** The cached, coalesced step plan and the ParameterStore: one segment per contiguous run, one
 * crossing per step, rebuilt exactly when what shapes it changes, and never at the cost of a
 * check step() would otherwise make. */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Adam, Parameter, ParameterStore } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';
import { f32State } from './support/float32_state.js';

const SEGMENT_STRIDE = addon.planLayout.segment.STRIDE;

/** Spies on the addon for the duration of a test: how many plans were built, of how many segments. */
function watch() {
  const prepare = vi.spyOn(addon, 'prepare');
  const run = vi.spyOn(addon, 'run');
  return {
    rebuilds: () => prepare.mock.calls.length,
    runs: () => run.mock.calls.length,
    lastSegments: () => prepare.mock.calls.at(-1)![1].length / SEGMENT_STRIDE,
  };
}
afterEach(() => vi.restoreAllMocks());

function storeModel(seed: number) {
  const store = new ParameterStore([
    { name: 'w1', shape: [100, 30] },
    { name: 'b1', shape: [30] },
    { name: 'w2', shape: [30, 7] },
    { name: 'b2', shape: [7] },
  ]);
  fillValues(store.data, rng(seed));
  fillValues(store.grads, rng(seed + 1));
  store.attachGrads({ zero: false });
  return store;
}

describe('a ParameterStore', () => {
  it('holds parameters as contiguous views of one 64-byte-aligned buffer, grads in another', () => {
    const store = storeModel(1);
    let offset = 0;
    for (const p of store.params) {
      expect(p.data.buffer).toBe(store.data.buffer);
      expect(p.data.byteOffset).toBe(store.data.byteOffset + offset * 4);
      expect(p.grad!.buffer).toBe(store.grads.buffer);
      expect(store.gradOf(p)).toBe(p.grad);
      offset += p.numel;
    }
    expect(offset).toBe(store.data.length);
    expect(addon.alignment(store.data.buffer as ArrayBuffer) + store.data.byteOffset).toSatisfy((a: number) => a % 64 === 0);
    expect(store.get('b2')!.shape).toEqual([7]);
  });

  it('steps as one segment, and exactly as the same model in separate buffers', () => {
    const store = storeModel(2);
    const separate = store.params.map((p) => {
      const q = new Parameter(p.data.slice(), { shape: p.shape });
      q.grad = p.grad!.slice();
      return q;
    });
    const w = watch();
    const a = new Adam(store.params, { lr: 0.01 });
    a.step();
    expect(w.lastSegments()).toBe(1);
    const b = new Adam(separate, { lr: 0.01 });
    b.step();
    expect(w.lastSegments()).toBe(4);
    for (let s = 0; s < 2; s++) {
      a.step();
      b.step();
    }
    store.params.forEach((p, i) => expect(firstBitDifference(p.data, separate[i]!.data)).toBeNull());
  });

  it('splits the segment around a parameter whose grad is null, and skips it bit for bit', () => {
    const store = storeModel(3);
    const opt = new Adam(store.params);
    const frozen = store.get('b1')!;
    frozen.grad = null;
    const before = frozen.data.slice();
    const w = watch();
    opt.step();
    expect(w.lastSegments()).toBe(2);
    expect(firstBitDifference(frozen.data, before)).toBeNull();
    expect(opt.state.get(frozen)).toBeUndefined();
  });

  it('keeps the cached plan through zeroGrad() and attachGrads()', () => {
    const store = storeModel(4);
    const opt = new Adam(store.params);
    opt.step();
    const w = watch();
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      store.attachGrads();
      opt.step();
    }
    expect(w.rebuilds()).toBe(0);
    expect(w.runs()).toBe(3);
  });

  it('rejects bad specs', () => {
    expect(() => new ParameterStore([{ shape: [2, -1] }])).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => new ParameterStore([{ shape: [2], init: [1] }])).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => new ParameterStore([{ shape: [1], name: 'a' }, { shape: [1], name: 'a' }])).toThrow(
      expect.objectContaining({ code: 'ERR_DUPLICATE_PARAM' }),
    );
    expect(() => new ParameterStore([{ shape: [1], lr: 1 } as never])).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
  });
});

describe('the cached step plan', () => {
  function separateModel() {
    const params = [10, 20, 30].map((n, i) => {
      const p = new Parameter(fillValues(new Float32Array(n), rng(i + 1)));
      p.grad = fillValues(new Float32Array(n), rng(i + 11));
      return p;
    });
    return { params, opt: new Adam(params, { lr: 0.1 }) };
  }

  it('is reused while grads, freezing and state are unchanged, hyperparameter changes included', () => {
    const { opt } = separateModel();
    opt.step();
    const w = watch();
    opt.paramGroups[0]!.lr = 0.5;
    opt.step();
    opt.step();
    expect(w.rebuilds()).toBe(0);
    expect(w.runs()).toBe(2);
  });

  it('is reused when grads are reassigned the arrays it was built for, by any parameter', () => {
    const { opt, params } = separateModel();
    opt.step();
    const w = watch();
    const grads = params.map((p) => p.grad);
    params.forEach((p, i) => {
      p.grad = null;
      p.grad = grads[i]!;
    });
    new Parameter(new Float32Array(1)).grad = new Float32Array(1); // another model's parameter
    opt.step();
    opt.step();
    expect(w.rebuilds()).toBe(0);
    expect(f32State(opt.state.get(params[0]!)).step).toBe(3);
  });

  it('keeps grad an own enumerable property of a Parameter, as a plain field would be', () => {
    const p = new Parameter(new Float32Array(2), { name: 'w' });
    const g = new Float32Array(2);
    p.grad = g;
    expect(Object.keys(p)).toContain('grad');
    expect({ ...p }.grad).toBe(g);
    p.grad = 'anything' as never; // validated by step(), not on assignment
    expect(p.grad).toBe('anything');
  });

  it('is rebuilt when a grad is set to null or a parameter is frozen, refreshed when a grad is replaced', () => {
    const { opt, params } = separateModel();
    opt.step();
    const w = watch();
    const refresh = vi.spyOn(addon, 'refreshGrads');
    params[0]!.grad = new Float32Array(10);
    opt.step();
    expect([w.rebuilds(), refresh.mock.calls.length]).toEqual([0, 1]);
    params[1]!.grad = null;
    opt.step();
    params[2]!.requiresGrad = false;
    opt.step();
    expect(w.rebuilds()).toBe(2);
    expect(f32State(opt.state.get(params[0]!)).step).toBe(4);
    expect(f32State(opt.state.get(params[1]!)).step).toBe(2);
    expect(f32State(opt.state.get(params[2]!)).step).toBe(3);
  });

  it('still reports a buffer detached after it was built, with its own code, changing nothing', () => {
    const { opt, params } = separateModel();
    opt.step();
    const intact = [params[0]!, params[2]!];
    const before = snapshot(opt, intact);
    const data = params[1]!.data.slice();
    const grad = params[1]!.grad!;
    structuredClone(grad.buffer, { transfer: [grad.buffer as ArrayBuffer] });
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    expectUnchanged(opt, intact, before);
    expect(firstBitDifference(params[1]!.data, data)).toBeNull();
  });

  it('still refuses a corrupted step count and an amsgrad switch', () => {
    const { opt, params } = separateModel();
    opt.step();
    f32State(opt.state.get(params[0]!)).step = 1.5;
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_STATE' }));
    f32State(opt.state.get(params[0]!)).step = 1;
    opt.paramGroups[0]!.amsgrad = true;
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_AMSGRAD_STATE' }));
  });

  it('steps with a step count the user assigned since the plan was built, bit for bit as a fresh optimizer would', () => {
    const { opt, params } = separateModel();
    opt.step();
    opt.step();
    f32State(opt.state.get(params[1]!)).step = 40;
    const w = watch();
    opt.step();
    expect(w.rebuilds()).toBe(1);
    expect(params.map((p) => f32State(opt.state.get(p)).step)).toEqual([3, 41, 3]);

    // The same from a state dict that says 40, loaded into a fresh optimizer over copies.
    const saved = opt.stateDict();
    const copies = params.map((p) => {
      const c = new Parameter(p.data.slice());
      c.grad = p.grad!.slice();
      return c;
    });
    const fresh = new Adam(copies, { lr: 0.1 });
    fresh.loadStateDict(saved);
    opt.step();
    fresh.step();
    params.forEach((p, i) => expect(firstBitDifference(p.data, copies[i]!.data)).toBeNull());
    expect(copies.map((p) => f32State(fresh.state.get(p)).step)).toEqual([4, 42, 4]);
  });

  it('keeps state a plain-looking record: step, expAvg, expAvgSq, dtype as own enumerable properties', () => {
    const { opt, params } = separateModel();
    opt.step();
    const state = f32State(opt.state.get(params[0]!));
    expect(Object.keys(state)).toEqual(['step', 'expAvg', 'expAvgSq', 'dtype']);
    expect({ ...state }).toEqual({ step: 1, expAvg: state.expAvg, expAvgSq: state.expAvgSq, dtype: 'float32' });
    expect(structuredClone(state)).toEqual({ step: 1, expAvg: state.expAvg, expAvgSq: state.expAvgSq, dtype: 'float32' });
    (state as { step: unknown }).step = '3';
    expect(() => opt.step()).toThrow(/state.step must be a non-negative integer, got the string "3"/);
    state.step = 1;
    opt.step();
    expect(state.step).toBe(2);
  });

  it('counts steps of a state object put into the map by hand, one by one', () => {
    const { opt, params } = separateModel();
    opt.step();
    const own = f32State(opt.state.get(params[2]!));
    const foreign = { step: own.step, expAvg: own.expAvg.slice(), expAvgSq: own.expAvgSq.slice() };
    (opt.state as unknown as Map<Parameter, typeof foreign>).set(params[2]!, foreign);
    opt.step();
    opt.step();
    expect(foreign.step).toBe(3);
    foreign.step = 10;
    const w = watch();
    opt.step();
    expect(w.rebuilds()).toBe(1);
    expect(foreign.step).toBe(11);
  });

  it('keeps a group\'s state in one arena, contiguous in group order, even for parameters that start later', () => {
    const store = storeModel(5);
    const opt = new Adam(store.params);
    const late = store.get('w2')!;
    late.grad = null;
    opt.step();
    store.attachGrads();
    opt.step();
    const views = store.params.map((p) => f32State(opt.state.get(p)).expAvg);
    expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
    views.slice(1).forEach((v, i) => expect(v.byteOffset).toBe(views[i]!.byteOffset + views[i]!.byteLength));
  });

  it('places each state view at its parameter\'s position within a cache line, so threads split both at lines', () => {
    const line = (a: Float32Array) => (addon.alignment(a.buffer as ArrayBuffer) + a.byteOffset) % 64;
    const params = [1, 3, 17, 100_000, 5].map((n, i) => {
      const p = new Parameter(new Float32Array(new ArrayBuffer((n + i) * 4), i * 4, n));
      p.grad = new Float32Array(n);
      return p;
    });
    const opt = new Adam(params, { amsgrad: true });
    opt.step();
    for (const p of params) {
      const s = f32State(opt.state.get(p));
      for (const view of [s.expAvg, s.expAvgSq, s.maxExpAvgSq!]) expect(line(view)).toBe(line(p.data));
    }
  });
});
