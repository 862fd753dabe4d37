/**
 * stateDict() gives a snapshot in PyTorch's layout; loadStateDict() takes it back, its JSON round
 * trip, or PyTorch's own dump, validating everything before it changes anything.
 */
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';

import { Adam, AdamW, Parameter, SimdAdamError, type StateDictInput } from '../src/index.js';
import { firstBitDifference } from './support/compare.js';
import { loadCases } from './support/fixtures.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';
import { f32State, f32Tensor } from './support/float32_state.js';

/** Three groups; p3 is never given a grad, so it has no state. */
function trained(options: { names?: boolean } = {}) {
  const sizes = [6, 5, 3, 4];
  const params = sizes.map(
    (n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 1)), options.names === false ? { shape: i === 0 ? [2, 3] : [n] } : { name: `p${i}`, shape: i === 0 ? [2, 3] : [n] }),
  );
  const [p0, p1, p2, p3] = params as [Parameter, Parameter, Parameter, Parameter];
  const opt = new Adam([{ params: [p1, p0] }, { params: [p2], amsgrad: true, weightDecay: 0.1 }, { params: [p3], lr: 0.5 }], { lr: 0.01 });
  for (let s = 0; s < 3; s++) {
    [p0, p1, p2].forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(100 * s + i))));
    opt.step();
  }
  return { opt, params };
}

function gradsFor(params: readonly Parameter[], seed: number): Float32Array[] {
  return params.map((p, i) => fillValues(new Float32Array(p.numel), rng(seed + i)));
}

describe('stateDict()', () => {
  it("uses PyTorch's layout and key names, numbering parameters in order of first appearance", () => {
    const { opt } = trained();
    const sd = opt.stateDict();
    expect(sd.param_groups.map((g) => g.params)).toEqual([[0, 1], [2], [3]]);
    expect(Object.keys(sd.param_groups[0]!)).toEqual(['lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'maximize', 'decoupled_weight_decay', 'state_dtype', 'min_8bit_size', 'params', 'param_names']);
    expect(sd.param_groups.map((g) => g.param_names)).toEqual([['p1', 'p0'], ['p2'], ['p3']]);
    expect(sd.param_groups[1]).toMatchObject({ amsgrad: true, weight_decay: 0.1, lr: 0.01, betas: [0.9, 0.999] });
    expect(Object.keys(sd.state)).toEqual(['0', '1', '2']);
    expect(Object.keys(sd.state[0]!)).toEqual(['step', 'exp_avg', 'exp_avg_sq']);
    expect(Object.keys(sd.state[2]!)).toEqual(['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
    expect(sd.state[0]!.step).toBe(3);
    expectTypeOf(sd.param_groups[0]!.weight_decay).toEqualTypeOf<number>();
    expectTypeOf(sd.param_groups[0]!.decoupled_weight_decay).toEqualTypeOf<boolean>();
    expectTypeOf(sd.param_groups[0]!.betas).toEqualTypeOf<[number, number]>();
    expectTypeOf(f32Tensor(sd.state[0]!.exp_avg)).toEqualTypeOf<Float32Array>();
  });

  it('holds entries only for parameters that have been stepped', () => {
    const { opt } = trained();
    expect(opt.stateDict().state[3]).toBeUndefined();
  });

  it('omits param_names unless every parameter has a name', () => {
    const { opt, params } = trained({ names: false });
    expect(opt.stateDict().param_groups.every((g) => !('param_names' in g))).toBe(true);
    const mixed = new Adam([params[0]!, new Parameter(new Float32Array(2), { name: 'named' })]);
    expect('param_names' in mixed.stateDict().param_groups[0]!).toBe(false);
  });

  it('is a snapshot: copies that neither side can change through the other', () => {
    const { opt, params } = trained();
    const sd = opt.stateDict();
    const live = f32State(opt.state.get(params[1]!));
    expect(firstBitDifference(f32Tensor(sd.state[0]!.exp_avg), live.expAvg)).toBeNull();
    expect(f32Tensor(sd.state[0]!.exp_avg).buffer).not.toBe(live.expAvg.buffer);
    const kept = f32Tensor(sd.state[0]!.exp_avg).slice();
    params.forEach((p, i) => (p.grad = i < 3 ? fillValues(new Float32Array(p.numel), rng(7 + i)) : null));
    opt.step();
    expect(firstBitDifference(f32Tensor(sd.state[0]!.exp_avg), kept)).toBeNull();
    expect(sd.state[0]!.step).toBe(3);
    f32Tensor(sd.state[0]!.exp_avg).fill(9);
    sd.param_groups[0]!.betas[0] = 0.5;
    expect(live.expAvg[0]).not.toBe(9);
    expect(opt.paramGroups[0]!.betas[0]).toBe(0.9);
  });

  it('tensors serialise as { shape, data } through a non-enumerable toJSON', () => {
    const { opt } = trained();
    const t = f32Tensor(opt.stateDict().state[1]!.exp_avg);
    expect(Object.keys(t)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(JSON.parse(JSON.stringify(t))).toEqual({ shape: [2, 3], data: Array.from(t) });
  });

  it('writes unknown group keys back out in snake_case', () => {
    const { opt } = trained();
    (opt.paramGroups[0] as Record<string, unknown>).initialLr = 0.02;
    expect(opt.stateDict().param_groups[0]).toMatchObject({ initial_lr: 0.02 });
  });
});

describe('loadStateDict()', () => {
  it('restores state and hyperparameters into a fresh optimizer, which then steps bit for bit like the original', () => {
    const { opt, params } = trained();
    const copies = params.map((p) => new Parameter(p.data.slice(), { name: p.name, shape: p.shape }));
    const [c0, c1, c2, c3] = copies as [Parameter, Parameter, Parameter, Parameter];
    const fresh = new Adam([{ params: [c1, c0] }, { params: [c2], amsgrad: true }, { params: [c3] }]);
    fresh.loadStateDict(opt.stateDict());
    expect(fresh.paramGroups[1]).toMatchObject({ weightDecay: 0.1, amsgrad: true, lr: 0.01 });
    expect(fresh.state.has(c3)).toBe(false);
    for (let s = 0; s < 3; s++) {
      const grads = gradsFor(params, 1000 * s);
      params.forEach((p, i) => (p.grad = grads[i]!));
      copies.forEach((p, i) => (p.grad = grads[i]!.slice()));
      opt.step();
      fresh.step();
    }
    params.forEach((p, i) => expect(firstBitDifference(copies[i]!.data, p.data), `param ${i}`).toBeNull());
  });

  it('keeps every finite float32 bit through JSON.stringify and JSON.parse, negative zero included', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 2 ** 40 }), (values, step) => {
        const p = new Parameter(new Float32Array(values.length));
        const opt = new Adam([p]);
        const src = Float32Array.from(values);
        const sd = { state: { 0: { step, exp_avg: src, exp_avg_sq: src.map(Math.abs) } }, param_groups: opt.stateDict().param_groups };
        opt.loadStateDict(sd);
        const json = JSON.parse(JSON.stringify(opt.stateDict())) as StateDictInput;
        const back = new Adam([new Parameter(new Float32Array(values.length))]);
        back.loadStateDict(json);
        const state = f32State([...back.state.values()][0]);
        expect(state!.step).toBe(step);
        expect(firstBitDifference(state!.expAvg, src)).toBeNull();
        expect(Object.is(state!.expAvg[0], src[0])).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('copies what it loads: the caller can reuse its arrays afterwards', () => {
    const { opt, params } = trained();
    const sd = opt.stateDict();
    const fresh = new Adam([{ params: [params[1]!, params[0]!] }, { params: [params[2]!], amsgrad: true }, { params: [params[3]!] }]);
    fresh.loadStateDict(sd);
    const loaded = f32State(fresh.state.get(params[1]!));
    expect(loaded.expAvg).not.toBe(f32Tensor(sd.state[0]!.exp_avg));
    const before = loaded.expAvg.slice();
    f32Tensor(sd.state[0]!.exp_avg).fill(123);
    sd.param_groups[1]!.betas[1] = 0.5;
    expect(firstBitDifference(loaded.expAvg, before)).toBeNull();
    expect(fresh.paramGroups[1]!.betas).toEqual([0.9, 0.999]);
  });

  it('replaces the state wholesale: parameters without an entry lose theirs, and old views are no longer used', () => {
    const { opt, params } = trained();
    const empty = opt.stateDict();
    const oldView = f32State(opt.state.get(params[0]!)).expAvg;
    empty.state = {};
    opt.loadStateDict(empty);
    expect(opt.state.size).toBe(0);
    const { opt: other } = trained();
    opt.loadStateDict(other.stateDict());
    expect(f32State(opt.state.get(params[0]!)).expAvg).not.toBe(oldView);
  });

  it("loads PyTorch's own dump: tensors as { shape, data }, step as a float, and keeps keys it does not use", () => {
    const c = loadCases().find((x) => x.steps.some((s) => s.torch_state_dict))!;
    const k = c.steps.findIndex((s) => s.torch_state_dict);
    const dump = c.steps[k]!.torch_state_dict as { state: Record<string, Record<string, { data: number[] } | number>>; param_groups: Array<Record<string, unknown>> };
    const params = c.params_init.map((t) => new Parameter(Float32Array.from(t.data), { shape: t.shape }));
    const opt = new Adam(c.param_groups.map((g) => ({ params: g.params.map((i) => params[i]!) })));
    opt.loadStateDict(dump as StateDictInput);
    expect(opt.paramGroups[0]).toMatchObject({ foreach: false, capturable: false, differentiable: false, fused: false, amsgrad: true });
    const out = opt.stateDict();
    dump.param_groups.forEach((g, gi) => expect(out.param_groups[gi]).toMatchObject({ ...g, decoupled_weight_decay: false }));
    for (const [id, entry] of Object.entries(dump.state)) {
      const ours = out.state[Number(id)] as unknown as Record<string, Float32Array | number>;
      expect(ours.step).toBe(entry.step);
      for (const key of ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']) {
        const theirs = entry[key] as { data: number[] } | undefined;
        if (theirs) expect(firstBitDifference(ours[key] as Float32Array, Float32Array.from(theirs.data)), `${id}.${key}`).toBeNull();
      }
    }
  });

  it('accepts number[] tensors and a 0-d tensor step', () => {
    const p = new Parameter(new Float32Array(2), { name: 'w' });
    const opt = new Adam([p]);
    opt.loadStateDict({ state: { 0: { step: { shape: [], data: [4] }, exp_avg: [0.5, -0.25], exp_avg_sq: { shape: [2], data: [1, 2] } } }, param_groups: [{ params: [0], lr: 0.1 }] });
    expect(opt.state.get(p)).toMatchObject({ step: 4, expAvg: new Float32Array([0.5, -0.25]), expAvgSq: new Float32Array([1, 2]) });
    expect(opt.paramGroups[0]!.lr).toBe(0.1);
  });

  it("keeps a key the saved group lacks: PyTorch's AdamW dump has no decoupled_weight_decay, and AdamW stays decoupled", () => {
    const p = new Parameter(new Float32Array(3));
    const opt = new AdamW([p]);
    opt.loadStateDict({ state: {}, param_groups: [{ params: [0], lr: 0.003, betas: [0.8, 0.9], eps: 1e-6, weight_decay: 0.05, amsgrad: false, maximize: false, foreach: null, initial_lr: 0.003 }] });
    expect(opt.paramGroups[0]).toMatchObject({ decoupledWeightDecay: true, weightDecay: 0.05, betas: [0.8, 0.9], initialLr: 0.003, foreach: null });
    expect(opt.stateDict().param_groups[0]).toMatchObject({ decoupled_weight_decay: true, initial_lr: 0.003, foreach: null });
  });

  it('maps ids by position, whatever numbers the saved dict uses', () => {
    const a = new Parameter(new Float32Array([1]));
    const b = new Parameter(new Float32Array([2, 3]));
    const opt = new Adam([{ params: [a] }, { params: [b] }]);
    opt.loadStateDict({ state: { 7: { step: 2, exp_avg: [1, 2], exp_avg_sq: [3, 4] } }, param_groups: [{ params: [40] }, { params: [7] }] });
    expect(opt.state.get(a)).toBeUndefined();
    expect(f32State(opt.state.get(b)).step).toBe(2);
  });
});

type ErrorClass = typeof TypeError | typeof RangeError | typeof SimdAdamError;
interface LoadCase {
  name: string;
  /** Changes the state dict in place, or returns a replacement for it. */
  spoil: (sd: Record<string, any>) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  replaces?: true;
  error: ErrorClass;
  message: RegExp;
}

const loadCasesTable: LoadCase[] = [
  { name: 'not an object', replaces: true, spoil: () => 'state', error: TypeError, message: /expected a state dict \{ state, param_groups \}, got the string/ },
  { name: 'param_groups missing', replaces: true, spoil: (sd) => ({ state: sd.state }), error: TypeError, message: /param_groups must be an array, got undefined/ },
  { name: 'state an array', replaces: true, spoil: (sd) => ({ ...sd, state: [] }), error: TypeError, message: /state must be an object keyed by parameter id/ },
  { name: 'one group too few', spoil: (sd) => void sd.param_groups.pop(), error: SimdAdamError, message: /the state dict has 2 param groups but the optimizer has 3/ },
  { name: 'a group with one parameter too many', spoil: (sd) => void (sd.param_groups[2].params.push(9), sd.param_groups[2].param_names.push('p9')), error: SimdAdamError, message: /param_groups\[2\] has 2 parameters but paramGroups\[2\] has 1/ },
  { name: 'a non-integer id', spoil: (sd) => (sd.param_groups[0].params[1] = 1.5), error: RangeError, message: /param_groups\[0\]: params\[1\] must be a non-negative integer id, got 1.5/ },
  { name: 'an id in two groups', spoil: (sd) => (sd.param_groups[2].params[0] = 0), error: SimdAdamError, message: /param_groups\[2\]: parameter id 0 already appears in param_groups\[0\]/ },
  { name: 'a name that differs', spoil: (sd) => (sd.param_groups[0].param_names[1] = 'encoder.weight'), error: SimdAdamError, message: /param_groups\[0\]: parameter 1 is named 'encoder.weight' in the state dict but 'p0' here/ },
  { name: 'param_names of the wrong length', spoil: (sd) => sd.param_groups[0].param_names.pop(), error: RangeError, message: /param_groups\[0\]: param_names has 1 entries but params has 2/ },
  { name: 'a negative lr', spoil: (sd) => (sd.param_groups[1].lr = -1), error: RangeError, message: /param_groups\[1\]: lr must be a finite number >= 0, got -1/ },
  { name: 'a beta2 of 1', spoil: (sd) => (sd.param_groups[0].betas = [0.9, 1]), error: RangeError, message: /param_groups\[0\]: betas\[1\]/ },
  { name: 'amsgrad as a string', spoil: (sd) => (sd.param_groups[0].amsgrad = 'yes'), error: TypeError, message: /param_groups\[0\]: amsgrad must be a boolean/ },
  { name: 'a camelCase group key', spoil: (sd) => (sd.param_groups[0].weightDecay = 0.1), error: SimdAdamError, message: /param_groups\[0\]: group key 'weightDecay' is not a snake_case name/ },
  { name: 'a state key that is not an id', spoil: (sd) => (sd.state.w = sd.state[0]), error: SimdAdamError, message: /state key 'w' is not a parameter id/ },
  { name: 'state for an id no group lists', spoil: (sd) => (sd.state[9] = sd.state[0]), error: SimdAdamError, message: /state\[9\] belongs to no parameter/ },
  { name: 'an unknown state key', spoil: (sd) => (sd.state[1].momentum_buffer = [0]), error: SimdAdamError, message: /state\[1\] \(group 0, parameter 1, 'p0'\): unknown state key 'momentum_buffer'/ },
  { name: 'exp_avg_sq missing', spoil: (sd) => delete sd.state[2].exp_avg_sq, error: SimdAdamError, message: /state\[2\] \(group 1, parameter 0, 'p2'\): state key 'exp_avg_sq' is missing/ },
  { name: 'amsgrad on without max_exp_avg_sq', spoil: (sd) => delete sd.state[2].max_exp_avg_sq, error: SimdAdamError, message: /state\[2\] .*amsgrad on but the state lacks 'max_exp_avg_sq'/ },
  { name: 'amsgrad switched off over max_exp_avg_sq', spoil: (sd) => (sd.param_groups[1].amsgrad = false), error: SimdAdamError, message: /state\[2\] .*amsgrad off but the state has 'max_exp_avg_sq'/ },
  { name: 'a tensor one element short', spoil: (sd) => (sd.state[1].exp_avg = sd.state[1].exp_avg.subarray(1)), error: RangeError, message: /state\[1\] \(group 0, parameter 1, 'p0'\): exp_avg has 5 elements but the parameter has 6/ },
  { name: 'a Float64Array tensor', spoil: (sd) => (sd.state[0].exp_avg_sq = new Float64Array(5)), error: TypeError, message: /state\[0\] .*exp_avg_sq must be a Float32Array, an array of numbers or \{ shape, data \}, got a Float64Array/ },
  { name: 'a shape that disagrees with its data', spoil: (sd) => (sd.state[0].exp_avg = { shape: [2, 2], data: [1, 2, 3, 4, 5] }), error: RangeError, message: /exp_avg.shape \[2, 2\] holds 4 elements but its data has 5/ },
  { name: 'a null element (NaN through JSON)', spoil: (sd) => (sd.state[0].exp_avg = [1, null, 3, 4, 5]), error: TypeError, message: /state\[0\] .*exp_avg\[1\] is null. JSON.stringify writes NaN and ±Infinity as null/ },
  { name: 'a string element', spoil: (sd) => (sd.state[0].exp_avg = [1, '2', 3, 4, 5]), error: TypeError, message: /exp_avg\[1\] must be a number, got the string "2"/ },
  { name: 'a negative step', spoil: (sd) => (sd.state[0].step = -1), error: RangeError, message: /state\[0\] .*step must be a non-negative integer .* got -1/ },
  { name: 'a fractional step', spoil: (sd) => (sd.state[0].step = 2.5), error: RangeError, message: /step must be a non-negative integer .* got 2.5/ },
  { name: 'a step beyond 2^53', spoil: (sd) => (sd.state[0].step = 2 ** 53), error: RangeError, message: /step must be a non-negative integer \(at most 2\^53 − 1\)/ },
  { name: 'a string step', spoil: (sd) => (sd.state[0].step = '3'), error: TypeError, message: /step must be a non-negative integer, got the string "3"/ },
  { name: 'a step tensor of two elements', spoil: (sd) => (sd.state[0].step = { shape: [2], data: [1, 2] }), error: TypeError, message: /step must be a number or a 0-d tensor/ },
];

describe('loadStateDict() with a bad state dict', () => {
  it.each(loadCasesTable)('$name → ERR_STATE_DICT naming where, nothing changed', ({ spoil, replaces, error, message }) => {
    const { opt, params } = trained();
    const sd = opt.stateDict() as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const replacement = spoil(sd);
    const bad = replaces ? replacement : sd;
    const views = params.map((p) => opt.state.get(p));
    const before = snapshot(opt, params);
    let caught: unknown;
    try {
      opt.loadStateDict(bad as StateDictInput);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(error);
    expect(caught).toMatchObject({ code: 'ERR_STATE_DICT' });
    expect((caught as Error).message).toMatch(/^loadStateDict\(\): /);
    expect((caught as Error).message).toMatch(message);
    expectUnchanged(opt, params, before);
    expect(snapshot(opt, params).groups).toBe(before.groups);
    params.forEach((p, i) => expect(opt.state.get(p)).toBe(views[i]));
  });
});
