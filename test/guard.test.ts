/** The non-finite guard: 'propagate' is PyTorch's behaviour; 'skip' and 'throw' check every
 * gradient before anything is written, so a refused step changes nothing at all. */
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, availableBackends, backend, Parameter, setBackend, SimdAdamError } from '../src/index.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';

const initial = backend();
afterAll(() => setBackend(initial));

/** Two groups; p0 and p2 already have state, p1 gets its first grad in the step under test. */
function setup(nonFinite: 'propagate' | 'skip' | 'throw', amsgrad = false) {
  const params = [37, 19, 50].map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 1)), { name: `p${i}` }));
  const opt = new AdamW([{ params: [params[0]!, params[1]!] }, { params: [params[2]!], weightDecay: 0.1 }], { lr: 0.01, nonFinite, amsgrad });
  params[0]!.grad = fillValues(new Float32Array(37), rng(10));
  params[2]!.grad = fillValues(new Float32Array(50), rng(12));
  opt.step();
  params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(20 + i))));
  return { opt, params };
}

describe.each(availableBackends())('on the %s backend', (name) => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`'skip' with a ${bad} grad changes nothing and counts the skip`, () => {
      setBackend(name);
      for (const amsgrad of [false, true]) {
        const { opt, params } = setup('skip', amsgrad);
        params[2]!.grad![49] = bad;
        const before = snapshot(opt, params);
        opt.step();
        expectUnchanged(opt, params, before);
        expect(opt.state.has(params[1]!)).toBe(false);
        expect(opt.skippedSteps).toBe(1);
        params[2]!.grad![49] = 0.5;
        opt.step();
        expect(opt.skippedSteps).toBe(1);
        expect(opt.state.get(params[1]!)!.step).toBe(1);
        expect(opt.state.get(params[0]!)!.step).toBe(2);
      }
    });

    it(`'throw' with a ${bad} grad names the first bad parameter and element, and changes nothing`, () => {
      setBackend(name);
      const { opt, params } = setup('throw');
      params[1]!.grad![17] = bad;
      params[2]!.grad![3] = NaN;
      const before = snapshot(opt, params);
      let error: unknown;
      try {
        opt.step();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SimdAdamError);
      expect((error as SimdAdamError).code).toBe('ERR_NON_FINITE');
      expect((error as Error).message).toMatch(new RegExp(`group 0, parameter 1 \\('p1'\\): grad\\[17\\] is ${String(bad)}`));
      expectUnchanged(opt, params, before);
      expect(opt.state.has(params[1]!)).toBe(false);
      expect(opt.skippedSteps).toBe(0);
    });
  }

  it("'propagate' lets NaN into the update exactly where PyTorch would", () => {
    setBackend(name);
    const { opt, params } = setup('propagate');
    params[0]!.grad![5] = NaN;
    opt.step();
    params[0]!.data.forEach((x, i) => expect(Number.isNaN(x), `[${i}]`).toBe(i === 5));
    expect(opt.skippedSteps).toBe(0);
  });

  it("'skip' and 'throw' give the same result as 'propagate' when every grad is finite", () => {
    setBackend(name);
    const runs = (['propagate', 'skip', 'throw'] as const).map((mode) => {
      const { opt, params } = setup(mode, true);
      opt.step();
      return params.map((p) => Array.from(p.data));
    });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });
});

describe('the nonFinite option', () => {
  it("defaults to 'propagate', and is an optimizer option, not a group hyperparameter", () => {
    const p = new Parameter(new Float32Array(4));
    const opt = new Adam([p]);
    expect(opt.nonFinite).toBe('propagate');
    expect(opt.skippedSteps).toBe(0);
    expect('nonFinite' in opt.defaults).toBe(false);
    expect('nonFinite' in opt.paramGroups[0]!).toBe(false);
    expect(() => new Adam([{ params: [p], nonFinite: 'skip' } as never])).toThrow(/unknown option 'nonFinite'/);
  });

  it('rejects bad values and misspellings with ERR_OPTION', () => {
    const p = [new Parameter(new Float32Array(4))];
    expect(() => new Adam(p, { nonFinite: 'ignore' as never })).toThrow(RangeError);
    expect(() => new Adam(p, { nonFinite: 'ignore' as never })).toThrow(/nonFinite must be one of propagate, skip, throw, got the string "ignore"/);
    expect(() => new Adam(p, { nonFinite: true as never })).toThrow(TypeError);
    expect(() => new Adam(p, { non_finite: 'skip' } as never)).toThrow(/did you mean nonFinite\?/);
    expect(() => new AdamW(p, { warnOnZeroGrad: 'yes' as never })).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
  });

  it('skippedSteps is read-only', () => {
    const opt = new Adam([new Parameter(new Float32Array(4))], { nonFinite: 'skip' });
    expect(() => ((opt as unknown as { skippedSteps: number }).skippedSteps = 3)).toThrow(TypeError);
    expect(opt.skippedSteps).toBe(0);
  });
});
