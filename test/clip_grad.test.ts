/** clipGradNorm against torch.nn.utils.clip_grad_norm_ (test/fixtures/pytorch/toolkit), on
 * every backend, and its handling of null grads, frozen parameters, non-finite norms and bad
 * input. */
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, clipGradNorm, Parameter, setBackend, SimdAdamError } from '../src/index.js';
import { firstBitDifference } from './support/compare.js';
import { loadToolkit } from './support/fixtures.js';
import { fillValues, rng } from './support/random.js';

const initial = backend();
afterAll(() => setBackend(initial));

interface ClipCase {
  name: string;
  max_norm: number;
  norm_type: number | 'inf';
  grads: Array<number[] | null>;
  total_norm: number;
  clipped: Array<number[] | null>;
}

const clipCases = loadToolkit<ClipCase[]>('clip_grad_norm.json');

function relErr(ours: number, ref: number): number {
  return Math.abs(ours - ref) / Math.max(Math.abs(ref), 1e-30);
}

function withGrads(grads: Array<number[] | null>): Parameter[] {
  return grads.map((g, i) => {
    const p = new Parameter(new Float32Array(g ? g.length : 3), { name: `p${i}` });
    p.grad = g ? Float32Array.from(g) : null;
    return p;
  });
}

function randomParams(sizes: number[], seed: number): Parameter[] {
  return sizes.map((n, i) => {
    const p = new Parameter(new Float32Array(n));
    p.grad = fillValues(new Float32Array(n), rng(seed + i));
    return p;
  });
}

describe.each(availableBackends())('clipGradNorm on the %s backend', (name) => {
  it.each(clipCases.map((c) => [c.name, c] as const))('matches PyTorch on %s within 1e-5 relative', (_, c) => {
    setBackend(name);
    const params = withGrads(c.grads);
    const total = clipGradNorm(params, c.max_norm, { normType: c.norm_type });
    expect(relErr(total, c.total_norm)).toBeLessThanOrEqual(1e-5);
    params.forEach((p, i) => {
      const ref = c.clipped[i];
      if (ref === null || ref === undefined) return void expect(p.grad).toBeNull();
      p.grad!.forEach((x, j) => expect(Math.abs(x - ref[j]!), `grad ${i}[${j}]`).toBeLessThanOrEqual(1e-5 * Math.abs(ref[j]!) + 1e-12));
    });
  });

  it('agrees with the js backend on large, odd-sized grads for every norm type', () => {
    for (const normType of [2, 1, 3, 'inf'] as const) {
      setBackend('js');
      const ref = randomParams([100_003, 17, 4099], 7);
      const refTotal = clipGradNorm(ref, 0.5, { normType });
      setBackend(name);
      const ours = randomParams([100_003, 17, 4099], 7);
      const total = clipGradNorm(ours, 0.5, { normType });
      expect(relErr(total, refTotal), `${normType}`).toBeLessThanOrEqual(1e-6);
      let worst = 0;
      ours.forEach((p, i) => p.grad!.forEach((x, j) => (worst = Math.max(worst, relErr(x, ref[i]!.grad![j]!)))));
      expect(worst, `${normType}`).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe('clipGradNorm', () => {
  it('accepts a single Parameter, as PyTorch accepts a single tensor', () => {
    const [p] = withGrads([[3, 4]]);
    expect(clipGradNorm(p!, 1)).toBe(5);
    expect(Array.from(p!.grad!)).toEqual([Math.fround(3 * Math.fround(1 / Math.fround(5 + Math.fround(1e-6)))), Math.fround(4 * Math.fround(1 / Math.fround(5 + Math.fround(1e-6))))]);
  });

  it('ignores null grads and frozen parameters, and returns 0 when nothing has a grad', () => {
    const params = withGrads([[3, 4], null, [100, 100]]);
    params[2]!.requiresGrad = false;
    const frozenGrad = params[2]!.grad!.slice();
    expect(clipGradNorm(params, 10)).toBe(5);
    expect(firstBitDifference(params[2]!.grad!, frozenGrad)).toBeNull();
    expect(params[1]!.grad).toBeNull();
    expect(clipGradNorm(withGrads([null, null]), 1)).toBe(0);
    expect(clipGradNorm([], 1)).toBe(0);
  });

  it('leaves grads bit for bit alone when the norm is below maxNorm', () => {
    const params = randomParams([33, 5], 3);
    const before = params.map((p) => p.grad!.slice());
    clipGradNorm(params, 1e6);
    params.forEach((p, i) => expect(firstBitDifference(p.grad!, before[i]!)).toBeNull());
  });

  it('with errorIfNonfinite, throws ERR_NON_FINITE before changing any grad', () => {
    for (const bad of [NaN, Infinity]) {
      const params = randomParams([20, 20], 5);
      params[1]!.grad![7] = bad;
      const before = params.map((p) => p.grad!.slice());
      expect(() => clipGradNorm(params, 1, { errorIfNonfinite: true })).toThrow(
        expect.objectContaining({ code: 'ERR_NON_FINITE', constructor: SimdAdamError }),
      );
      params.forEach((p, i) => expect(firstBitDifference(p.grad!, before[i]!)).toBeNull());
    }
  });

  it('without it, scales by the non-finite coefficient as PyTorch does: NaN spreads, Inf zeroes', () => {
    const nan = randomParams([20, 20], 5);
    nan[0]!.grad![3] = NaN;
    expect(clipGradNorm(nan, 1)).toBeNaN();
    nan.forEach((p) => expect(p.grad!.every(Number.isNaN)).toBe(true));
    const inf = randomParams([20], 6);
    inf[0]!.grad![3] = -Infinity;
    expect(clipGradNorm(inf, 1, { normType: 'inf' })).toBe(Infinity);
    inf[0]!.grad!.forEach((x, j) => (j === 3 ? expect(x).toBeNaN() : expect(Object.is(Math.abs(x), 0)).toBe(true)));
  });

  it('rejects bad input with coded TypeErrors and RangeErrors, changing nothing', () => {
    const params = randomParams([4], 1);
    const before = params[0]!.grad!.slice();
    const bad: Array<[() => unknown, ErrorConstructor, RegExp]> = [
      [() => clipGradNorm(42 as never, 1), TypeError, /params must be a Parameter or an iterable/],
      [() => clipGradNorm([params[0], {}] as never, 1), TypeError, /params\[1\] must be a Parameter/],
      [() => clipGradNorm(params, '1' as never), TypeError, /maxNorm must be a number/],
      [() => clipGradNorm(params, -1), RangeError, /maxNorm must be a number >= 0, got -1/],
      [() => clipGradNorm(params, NaN), RangeError, /maxNorm/],
      [() => clipGradNorm(params, 1, { normType: 0 }), RangeError, /normType must be a number > 0 or 'inf'/],
      [() => clipGradNorm(params, 1, { normType: 'max' as never }), TypeError, /normType/],
      [() => clipGradNorm(params, 1, { norm_type: 2 } as never), TypeError, /did you mean normType\?/],
      [() => clipGradNorm(params, 1, { errorIfNonfinite: 1 as never }), TypeError, /errorIfNonfinite must be a boolean/],
    ];
    for (const [call, type, message] of bad) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
      expect(call).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_(OPTION|PARAM_TYPE)$/) }));
    }
    const wrongLength = withGrads([[1, 2, 3]]);
    wrongLength[0]!.grad = new Float32Array(2);
    expect(() => clipGradNorm(wrongLength, 1)).toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    expect(firstBitDifference(params[0]!.grad!, before)).toBeNull();
  });
});
