/** A training loop that hands step() new grad arrays every step: the cached plan refreshes only
 * its grad column (one native call), checks exactly the grads that changed, and steps bit for
 * bit as a plan built from scratch would. */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Adam, Parameter, ParameterStore, backend, setBackend } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng } from './support/random.js';
import { f32State } from './support/float32_state.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';

afterEach(() => vi.restoreAllMocks());

/** Off while a from-scratch twin steps, so that only the optimizer under test is counted. */
let counting = true;

/** How many plans the optimizer under test built, and how many grad columns it refreshed. */
function watch() {
  let rebuilds = 0, refreshes = 0;
  const { prepare, refreshGrads } = addon;
  vi.spyOn(addon, 'prepare').mockImplementation((...args: Parameters<typeof prepare>) => {
    if (counting) rebuilds++;
    return prepare.apply(addon, args) as never;
  });
  vi.spyOn(addon, 'refreshGrads').mockImplementation((...args: Parameters<typeof refreshGrads>) => {
    if (counting) refreshes++;
    refreshGrads.apply(addon, args);
  });
  return { rebuilds: () => rebuilds, refreshes: () => refreshes };
}

const SIZES = [5, 16, 33, 1];

function separateParams(seed: number): Parameter[] {
  return SIZES.map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(seed + i)), { name: `p${i}` }));
}

/** A twin of `params` (copies of the data) stepped by an optimizer whose plan is rebuilt from
 * scratch every step: re-setting a state entry bumps the state map's version. */
function fromScratch(params: readonly Parameter[], options: ConstructorParameters<typeof Adam>[1]) {
  const twins = params.map((p) => new Parameter(p.data.slice(), { name: p.name! }));
  const opt = new Adam(twins, options);
  return {
    twins,
    step(grads: ReadonlyArray<Float32Array | null>) {
      twins.forEach((t, i) => (t.grad = grads[i] ? grads[i]!.slice() : null));
      for (const [p, s] of opt.state) (opt.state as Map<Parameter, typeof s>).set(p, s);
      counting = false;
      try {
        opt.step();
      } finally {
        counting = true;
      }
    },
    expectSame(ours: Adam, mine: readonly Parameter[]) {
      mine.forEach((p, i) => {
        expect(firstBitDifference(p.data, twins[i]!.data), `data of ${p.name}`).toBeNull();
        const a = ours.state.get(p), b = opt.state.get(twins[i]!);
        expect(a?.step).toBe(b?.step);
        if (a && b) expect(firstBitDifference(f32State(a).expAvgSq, f32State(b).expAvgSq)).toBeNull();
      });
    },
  };
}

function gradSet(seed: number): Float32Array[] {
  return SIZES.map((n, i) => fillValues(new Float32Array(n), rng(seed * 31 + i)));
}

describe('fresh grad arrays every step', () => {
  it('keep the plan: one refresh of the grad column per step, no rebuild, bit for bit as from scratch', () => {
    const params = separateParams(1);
    const opt = new Adam(params, { lr: 0.01, weightDecay: 0.1 });
    const twin = fromScratch(params, { lr: 0.01, weightDecay: 0.1 });
    const sets = [gradSet(1), gradSet(2)];
    params.forEach((p, i) => (p.grad = sets[0]![i]!));
    twin.step(sets[0]!);
    opt.step();
    const w = watch();
    for (let s = 1; s < 9; s++) {
      // Alternating pre-allocated sets, then brand-new arrays, with zeroGrad() in between.
      const grads = s < 5 ? sets[s % 2]! : gradSet(s + 10);
      opt.zeroGrad();
      params.forEach((p, i) => (p.grad = grads[i]!));
      opt.step();
      twin.step(grads);
    }
    expect(w.rebuilds()).toBe(0);
    expect(w.refreshes()).toBe(8);
    twin.expectSame(opt, params);
  });

  it('keep the plan with bfloat16 and 8-bit state too, stepping bit for bit as from scratch', () => {
    for (const stateDtype of ['bfloat16', '8bit'] as const) {
      const params = separateParams(12);
      const options = { stateDtype, min8bitSize: 1 };
      const opt = new Adam(params, options);
      const twin = fromScratch(params, options);
      const w = watch();
      for (let s = 0; s < 5; s++) {
        const grads = gradSet(60 + s);
        params.forEach((p, i) => (p.grad = grads[i]!));
        opt.step();
        twin.step(grads);
      }
      expect([w.rebuilds(), w.refreshes()]).toEqual([1, 4]);
      params.forEach((p, i) => expect(firstBitDifference(p.data, twin.twins[i]!.data), stateDtype).toBeNull());
      vi.restoreAllMocks();
    }
  });

  it('keep the plan through many brand-new arrays (the buffer registry starts over) and stay exact', () => {
    const params = separateParams(2);
    const opt = new Adam(params, { amsgrad: true });
    const twin = fromScratch(params, { amsgrad: true });
    const w = watch();
    for (let s = 0; s < 60; s++) {
      const grads = gradSet(100 + s);
      params.forEach((p, i) => (p.grad = grads[i]!));
      opt.step();
      twin.step(grads);
    }
    expect(w.rebuilds()).toBe(1);
    twin.expectSame(opt, params);
  });

  it('refuse a new grad that overlaps what the step writes, naming it, and change nothing', () => {
    const params = separateParams(3);
    const frozen = new Parameter(new Float32Array(16), { name: 'frozen' });
    const opt = new Adam([...params, frozen]);
    params.forEach((p, i) => (p.grad = gradSet(3)[i]!));
    frozen.grad = new Float32Array(16);
    opt.step();
    frozen.requiresGrad = false; // keeps its state, which no grad may overlap
    opt.step();
    const state = f32State(opt.state.get(params[2]!));
    const cases: Array<[string, Float32Array]> = [
      ["the parameter's own data", new Float32Array(params[1]!.data.buffer, 0, 16)],
      ["('p2')'s data", new Float32Array(params[2]!.data.buffer, 4, 16)],
      ["('p2')'s optimizer state exp_avg_sq", new Float32Array(state.expAvgSq.buffer, state.expAvgSq.byteOffset, 16)],
      ["('frozen')'s optimizer state exp_avg", f32State(opt.state.get(frozen)).expAvg],
    ];
    for (const [what, alias] of cases) {
      const good = params[1]!.grad;
      params[0]!.grad = new Float32Array(5); // a legal change in the same step
      params[1]!.grad = alias;
      const before = snapshot(opt, params);
      expect(() => opt.step(), what).toThrow(expect.objectContaining({ code: 'ERR_GRAD_ALIAS', message: expect.stringContaining(what) }));
      expectUnchanged(opt, params, before);
      params[1]!.grad = good;
      opt.step();
    }
  });

  it('accept a grad shared by two parameters and one in the same buffer as a parameter but apart from it', () => {
    const buffer = new ArrayBuffer(64 * 4);
    const a = new Parameter(new Float32Array(buffer, 0, 16).fill(1), { name: 'a' });
    const b = new Parameter(new Float32Array(16).fill(2), { name: 'b' });
    const opt = new Adam([a, b]);
    const twin = fromScratch([a, b], undefined);
    a.grad = new Float32Array(16).fill(0.5);
    b.grad = new Float32Array(16).fill(0.5);
    opt.step();
    twin.step([new Float32Array(16).fill(0.5), new Float32Array(16).fill(0.5)]);
    const w = watch();
    const shared = fillValues(new Float32Array(16), rng(9));
    a.grad = shared;
    b.grad = shared;
    opt.step();
    twin.step([shared, shared]);
    const apart = fillValues(new Float32Array(buffer, 32 * 4, 16), rng(10));
    a.grad = apart;
    opt.step();
    twin.step([apart, shared]);
    expect(w.rebuilds()).toBe(0);
    twin.expectSame(opt, [a, b]);
  });

  it('still report a grad whose buffer was detached while its parameter kept the same grad', () => {
    const params = separateParams(4);
    const opt = new Adam(params);
    params.forEach((p, i) => (p.grad = gradSet(4)[i]!));
    opt.step();
    params[0]!.grad = new Float32Array(5);
    const kept = params[3]!.grad!;
    structuredClone(kept.buffer, { transfer: [kept.buffer as ArrayBuffer] });
    const before = snapshot(opt, params.slice(0, 3));
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    expectUnchanged(opt, params.slice(0, 3), before);
  });

  it('refuse a new grad of the wrong type or length with the usual codes, and go on once fixed', () => {
    const params = separateParams(5);
    const opt = new Adam(params);
    params.forEach((p, i) => (p.grad = gradSet(5)[i]!));
    opt.step();
    for (const [bad, code] of [[new Float64Array(33), 'ERR_GRAD_TYPE'], [new Float32Array(32), 'ERR_GRAD_LENGTH']] as const) {
      params[2]!.grad = bad as Float32Array;
      const before = snapshot(opt, params);
      expect(() => opt.step()).toThrow(expect.objectContaining({ code }));
      expectUnchanged(opt, params, before);
    }
    params[2]!.grad = new Float32Array(33);
    opt.step();
    expect(opt.state.get(params[2]!)!.step).toBe(2);
  });

  it('rebuild a coalesced plan whose new grads no longer follow one another, then refresh it', () => {
    const store = new ParameterStore(SIZES.map((n) => ({ shape: [n] })));
    fillValues(store.data, rng(6));
    fillValues(store.grads, rng(7));
    store.attachGrads();
    const opt = new Adam(store.params);
    const twin = fromScratch(store.params, undefined);
    twin.step(store.params.map((p) => p.grad));
    opt.step();
    const w = watch();
    for (let s = 0; s < 3; s++) {
      // Views of one buffer with a float between them: in bounds, but no longer one run.
      const gapped = fillValues(new Float32Array(store.grads.length + SIZES.length), rng(20 + s));
      let at = 0;
      const grads = SIZES.map((n) => gapped.subarray(at, (at += n + 1) - 1));
      store.params.forEach((p, i) => (p.grad = grads[i]!));
      opt.step();
      twin.step(grads);
    }
    // Views of one fresh flat buffer fit the per-parameter segments the rebuild made.
    for (let s = 0; s < 3; s++) {
      const flat = fillValues(new Float32Array(store.grads.length), rng(30 + s));
      let at = 0;
      const grads = SIZES.map((n) => flat.subarray(at, (at += n)));
      store.params.forEach((p, i) => (p.grad = grads[i]!));
      opt.step();
      twin.step(grads);
    }
    expect(w.rebuilds()).toBe(1);
    expect(w.refreshes()).toBe(5);
    twin.expectSame(opt, store.params);
  });

  it('name the right parameter when the non-finite guard refuses a refreshed grad', () => {
    const params = separateParams(8);
    const opt = new Adam(params, { nonFinite: 'throw' });
    params.forEach((p, i) => (p.grad = gradSet(8)[i]!));
    opt.step();
    const grads = gradSet(9);
    grads[2]![7] = NaN;
    params.forEach((p, i) => (p.grad = grads[i]!));
    expect(() => opt.step()).toThrow(/parameter 2 \('p2'\): grad\[7\] is NaN/);
  });

  it('step off the event loop and on the js backend exactly as on the main thread', async () => {
    const initial = backend();
    try {
      for (const mode of ['async', 'js'] as const) {
        const params = separateParams(11);
        const opt = new Adam(params, { lr: 0.05 });
        const twin = fromScratch(params, { lr: 0.05 });
        if (mode === 'js') setBackend('js');
        for (let s = 0; s < 4; s++) {
          const grads = gradSet(40 + s);
          params.forEach((p, i) => (p.grad = grads[i]!));
          if (mode === 'async') await opt.stepAsync();
          else opt.step();
          twin.step(grads);
        }
        setBackend(initial);
        twin.expectSame(opt, params);
      }
    } finally {
      setBackend(initial);
    }
  });
});
