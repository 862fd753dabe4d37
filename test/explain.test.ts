/** explain(): what step() will do to each parameter and why, checked against what step() then
 * actually does, and warnOnZeroGrad, which reports the same trap as it happens. */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { Adam, AdamW, availableBackends, backend, Parameter, setBackend, type AdamOptions, type ExplainReason } from '../src/index.js';
import { firstBitDifference } from './support/compare.js';
import { loadCases, type ConformanceCase } from './support/fixtures.js';
import { fillValues, rng } from './support/random.js';
import { buildOptimizer } from './support/runner.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';
import { f32State } from './support/float32_state.js';

const initial = backend();
afterAll(() => setBackend(initial));
afterEach(() => vi.restoreAllMocks());

const filled = (n: number, seed: number) => fillValues(new Float32Array(n), rng(seed));

interface Scenario {
  name: string;
  options: AdamOptions;
  decoupled?: boolean;
  /** A first step with a real gradient, so the parameter has momentum. */
  warm?: boolean;
  zeroParam?: boolean;
  zeroMoments?: boolean;
  reason: ExplainReason;
}

const scenarios: Scenario[] = [
  { name: 'coupled weight decay on a non-zero parameter', options: { weightDecay: 0.1 }, reason: 'zero-grad-weight-decay' },
  { name: 'decoupled weight decay on a non-zero parameter', options: { weightDecay: 0.1 }, decoupled: true, reason: 'zero-grad-weight-decay' },
  { name: 'weight decay on an all-zero parameter with no state', options: { weightDecay: 0.1 }, zeroParam: true, reason: 'zero-grad-no-op' },
  { name: 'decoupled weight decay too small to change a float32 (lr·wd < 2^-25)', options: { lr: 1e-5, weightDecay: 1e-4 }, decoupled: true, reason: 'zero-grad-no-op' },
  { name: 'stored momentum and no weight decay', options: {}, warm: true, reason: 'zero-grad-momentum' },
  { name: 'stored momentum that was zeroed', options: {}, warm: true, zeroMoments: true, reason: 'zero-grad-no-op' },
  { name: 'stored momentum with beta1 = 0', options: { betas: [0, 0.999] }, warm: true, reason: 'zero-grad-no-op' },
  { name: 'stored momentum with lr = 0', options: { lr: 0 }, warm: true, reason: 'zero-grad-no-op' },
  { name: 'no state and no weight decay', options: {}, reason: 'zero-grad-no-op' },
  { name: 'no state and eps = 0 (0/0 writes NaN)', options: { eps: 0 }, reason: 'zero-grad-momentum' },
  { name: 'zeroed moments and eps = 0 (0/0 writes NaN)', options: { eps: 0 }, warm: true, zeroMoments: true, reason: 'zero-grad-momentum' },
  { name: 'amsgrad, zeroed moments, eps = 0', options: { eps: 0, amsgrad: true }, warm: true, zeroMoments: true, reason: 'zero-grad-momentum' },
];

describe.each(availableBackends())('explain() on the %s backend', (name) => {
  it.each(scenarios.map((s) => [s.name, s] as const))('an all-zero grad with %s', (_, s) => {
    setBackend(name);
    const p = new Parameter(s.zeroParam ? new Float32Array(33) : filled(33, 1), { name: 'w' });
    const opt = s.decoupled ? new AdamW([p], s.options) : new Adam([p], s.options);
    if (s.warm) {
      p.grad = filled(33, 2);
      opt.step();
    }
    if (s.zeroMoments) {
      const st = f32State(opt.state.get(p));
      [st.expAvg, st.expAvgSq, st.maxExpAvgSq].forEach((a) => a?.fill(0));
    }
    p.grad = new Float32Array(33);
    p.grad[7] = -0;
    const before = snapshot(opt, [p]);
    const [entry] = opt.explain();
    expectUnchanged(opt, [p], before);
    expect(entry).toEqual({ param: p, name: 'w', group: 0, action: 'update', reason: s.reason });
    const data = p.data.slice();
    opt.step();
    const moved = firstBitDifference(p.data, data) !== null;
    expect(moved, 'did step() move it?').toBe(s.reason !== 'zero-grad-no-op');
    expect(f32State(opt.state.get(p)).step).toBe(s.warm ? 2 : 1);
  });

  it('reports frozen, no-grad and gradient, with names and group indices, in group order', () => {
    setBackend(name);
    const [a, b, c, d] = [5, 6, 7, 8].map((n, i) => new Parameter(filled(n, i + 1), i === 3 ? {} : { name: `p${i}` }));
    const opt = new Adam([{ params: [a!, b!] }, { params: [c!, d!], weightDecay: 0.1 }]);
    a!.grad = filled(5, 9);
    b!.grad = null;
    c!.requiresGrad = false;
    c!.grad = filled(7, 10);
    d!.grad = new Float32Array(8);
    d!.grad[2] = NaN;
    expect(opt.explain()).toEqual([
      { param: a, name: 'p0', group: 0, action: 'update', reason: 'gradient' },
      { param: b, name: 'p1', group: 0, action: 'skip', reason: 'no-grad' },
      { param: c, name: 'p2', group: 1, action: 'skip', reason: 'frozen' },
      { param: d, name: undefined, group: 1, action: 'update', reason: 'gradient' },
    ]);
  });
});

describe('explain() on the recorded frozen-parameter cases', () => {
  const byName = new Map(loadCases().map((c) => [c.name, c] as const));

  /** Runs the recorded case; before each step, what explain() says about C (param 1). */
  function reasonsForC(c: ConformanceCase): Array<[ExplainReason, boolean]> {
    const { opt, params } = buildOptimizer(c, c.params_init.map((t) => t.data));
    return c.steps.map((step) => {
      if (step.zero_moments) for (const s of opt.state.values()) [f32State(s).expAvg, f32State(s).expAvgSq].forEach((a) => a.fill(0));
      params.forEach((p, i) => (p.grad = step.grads[i] === null ? null : Float32Array.from(step.grads[i]!)));
      const reason = opt.explain()[1]!.reason;
      const before = params[1]!.data.slice();
      opt.step();
      return [reason, firstBitDifference(params[1]!.data, before) !== null];
    });
  }

  it("a zero grad under weight decay is 'zero-grad-weight-decay', and C does move", () => {
    const reasons = reasonsForC(byName.get('frozen_zero_grad')!);
    expect(reasons.slice(0, 5).every(([r]) => r === 'gradient')).toBe(true);
    expect(reasons.slice(5)).toEqual(reasons.slice(5).map(() => ['zero-grad-weight-decay', true]));
  });

  it("a null grad is 'no-grad', and C stays bit for bit", () => {
    const reasons = reasonsForC(byName.get('frozen_grad_none')!);
    expect(reasons.slice(5)).toEqual(reasons.slice(5).map(() => ['no-grad', false]));
  });
});

describe('explain() validation', () => {
  it('throws exactly what step() throws, and changes nothing', () => {
    const ps = [new Parameter(filled(4, 1), { name: 'a' }), new Parameter(filled(3, 2), { name: 'b' })];
    const opt = new Adam(ps, { weightDecay: 0.1 });
    ps[0]!.grad = filled(4, 3);
    ps[1]!.grad = new Float32Array(2);
    const before = snapshot(opt, ps);
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).constructor, (e as Error).message.replace(/^\w+\(\)/, '')];
      }
      return null;
    };
    expect(codeOf(() => opt.explain())).not.toBeNull();
    expect(codeOf(() => opt.explain())).toEqual(codeOf(() => opt.step()));
    ps[1]!.grad = new Float32Array(3);
    opt.paramGroups[0]!.lr = -1;
    expect(codeOf(() => opt.explain())![0]).toBe('ERR_OPTION');
    expect(codeOf(() => opt.explain())).toEqual(codeOf(() => opt.step()));
    ps[1]!.grad = before.grads[1] as Float32Array;
    opt.paramGroups[0]!.lr = 1e-3;
    expectUnchanged(opt, ps, before);
  });
});

describe('warnOnZeroGrad', () => {
  function trap(options: { warnOnZeroGrad?: boolean }) {
    const ps = [new Parameter(filled(9, 1), { name: 'decayed' }), new Parameter(new Float32Array(9), { name: 'zeros' }), new Parameter(filled(9, 2), { name: 'trained' })];
    const opt = new Adam(ps, { weightDecay: 0.1, ...options });
    return { ps, opt };
  }

  it.each(availableBackends())('warns once per parameter that an all-zero grad did not hold (%s)', (name) => {
    setBackend(name);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { ps, opt } = trap({ warnOnZeroGrad: true });
    for (let k = 0; k < 3; k++) {
      ps[0]!.grad = new Float32Array(9);
      ps[1]!.grad = new Float32Array(9);
      ps[2]!.grad = filled(9, 5 + k);
      opt.step();
    }
    expect(warn).toHaveBeenCalledTimes(1);
    const [message, options] = warn.mock.calls[0]! as unknown as [string, { code: string }];
    expect(message).toMatch(/parameter 0 \('decayed'\) had an all-zero gradient, but weight decay moved it/);
    expect(options.code).toBe('SIMD_ADAM_ZERO_GRAD');
  });

  it('warns about momentum too, and stays silent when the option is off', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const p = new Parameter(filled(9, 1), { name: 'm' });
    const opt = new Adam([p], { warnOnZeroGrad: true });
    p.grad = filled(9, 2);
    opt.step();
    p.grad = new Float32Array(9);
    opt.step();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/but momentum moved it/);
    const { ps, opt: quiet } = trap({});
    ps.forEach((q) => (q.grad = new Float32Array(9)));
    quiet.step();
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
