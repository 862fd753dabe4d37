/**
 * Every native kernel against the TypeScript reference, bit for bit (any NaN equals any NaN):
 * every length from 0 to 3×16+1 (so each vector width meets its main loop and its tail), views
 * at different 4-byte offsets, every flag combination, and NaN/±Inf/±0/huge/tiny inputs.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { runSegments, type Segment } from '../src/engine/segment_table.js';
import { adamScalars, adamStepReference, type AdamHyper } from '../src/reference/adam.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng, SPECIALS } from './support/random.js';

const initial = backend();
afterAll(() => setBackend(initial));

const nativeBackends = availableBackends().filter((b) => b !== 'js');
const MAX_LENGTH = 3 * 16 + 1;

type DecayMode = 'none' | 'coupled' | 'decoupled';
const flagCombos: Array<{ amsgrad: boolean; maximize: boolean; decay: DecayMode }> = [];
for (const amsgrad of [false, true])
  for (const maximize of [false, true])
    for (const decay of ['none', 'coupled', 'decoupled'] as const) flagCombos.push({ amsgrad, maximize, decay });

function hyper(combo: (typeof flagCombos)[number], overrides: Partial<AdamHyper> = {}): AdamHyper {
  return {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: combo.decay === 'none' ? 0 : 0.05,
    amsgrad: combo.amsgrad,
    maximize: combo.maximize,
    decoupledWeightDecay: combo.decay === 'decoupled',
    ...overrides,
  };
}

/** A view of `n` floats at `offset` floats into a fresh buffer: only 4-byte aligned when odd. */
function view(n: number, offset: number): Float32Array {
  return new Float32Array(new ArrayBuffer((n + offset + 3) * 4), offset * 4, n);
}

interface Arrays {
  param: Float32Array;
  grad: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  maxExpAvgSq: Float32Array | null;
}

function makeArrays(n: number, offset: number, amsgrad: boolean, seed: number, specials: readonly number[]): Arrays {
  const next = rng(seed);
  const a: Arrays = {
    param: fillValues(view(n, offset), next, specials),
    grad: fillValues(view(n, (offset + 1) % 4), next, specials),
    expAvg: fillValues(view(n, (offset + 2) % 4), next),
    expAvgSq: fillValues(view(n, (offset + 3) % 4), next).map(Math.abs),
    maxExpAvgSq: amsgrad ? fillValues(view(n, offset), next, specials).map(Math.abs) : null,
  };
  return a;
}

function cloneArrays(a: Arrays): Arrays {
  return {
    param: a.param.slice(),
    grad: a.grad.slice(),
    expAvg: a.expAvg.slice(),
    expAvgSq: a.expAvgSq.slice(),
    maxExpAvgSq: a.maxExpAvgSq ? a.maxExpAvgSq.slice() : null,
  };
}

function compareArrays(ours: Arrays, ref: Arrays): string[] {
  const out: string[] = [];
  for (const key of ['param', 'expAvg', 'expAvgSq', 'maxExpAvgSq'] as const) {
    const a = ours[key];
    const b = ref[key];
    if (a && b) {
      const bad = firstBitDifference(a, b);
      if (bad) out.push(`${key} ${bad}`);
    }
  }
  return out;
}

function runBoth(name: string, a: Arrays, h: AdamHyper, step: number): string[] {
  const ref = cloneArrays(a);
  const s = adamScalars(h, step);
  adamStepReference(ref.param, ref.grad, ref.expAvg, ref.expAvgSq, ref.maxExpAvgSq, s);
  setBackend(name as never);
  const segment: Segment = { ...a, scalars: s };
  runSegments([segment]);
  return compareArrays(a, ref);
}

describe.each(nativeBackends)('the %s kernel', (name) => {
  it('matches the reference bit for bit at every length, offset and flag combination', () => {
    const problems: string[] = [];
    flagCombos.forEach((combo, ci) => {
      for (let n = 0; n <= MAX_LENGTH; n++) {
        for (let offset = 0; offset < 4; offset++) {
          const a = makeArrays(n, offset, combo.amsgrad, 1 + ci * 1000 + n * 7 + offset, []);
          for (const bad of runBoth(name, a, hyper(combo), 1 + (n % 5))) problems.push(`${JSON.stringify(combo)} n=${n} offset=${offset}: ${bad}`);
        }
      }
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('propagates NaN and ±Inf exactly as the reference does, amsgrad max included', () => {
    const problems: string[] = [];
    flagCombos.forEach((combo, ci) => {
      for (const n of [1, 7, 16, 33, MAX_LENGTH, 257]) {
        const a = makeArrays(n, n % 4, combo.amsgrad, 99 + ci * 31 + n, SPECIALS);
        for (const bad of runBoth(name, a, hyper(combo), 3)) problems.push(`${JSON.stringify(combo)} n=${n}: ${bad}`);
      }
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('handles eps = 0, beta1 = 0 and a long-run step count', () => {
    const problems: string[] = [];
    const settings: Array<[Partial<AdamHyper>, number]> = [
      [{ eps: 0 }, 1],
      [{ beta1: 0 }, 2],
      [{ beta1: 0, beta2: 0 }, 1],
      [{ beta2: 0.99999, lr: 10 }, 1_000_000],
    ];
    for (const [overrides, step] of settings) {
      for (const combo of flagCombos) {
        const a = makeArrays(MAX_LENGTH, 1, combo.amsgrad, 7 + step, SPECIALS);
        for (const bad of runBoth(name, a, hyper(combo, overrides), step)) problems.push(`${JSON.stringify(overrides)}: ${bad}`);
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('writes nothing outside the view it was given', () => {
    const buffer = new Float32Array(4 * 64);
    buffer.fill(1234.5);
    const region = (k: number) => new Float32Array(buffer.buffer, (k * 64 + 3) * 4, 37);
    const a: Arrays = { param: region(0), grad: region(1), expAvg: region(2), expAvgSq: region(3), maxExpAvgSq: null };
    a.grad.fill(0.5);
    setBackend(name as never);
    runSegments([{ ...a, scalars: adamScalars(hyper({ amsgrad: false, maximize: false, decay: 'coupled' }), 1) }]);
    for (let k = 0; k < 4; k++) {
      const start = k * 64;
      expect([...buffer.subarray(start, start + 3)]).toEqual([1234.5, 1234.5, 1234.5]);
      expect([...buffer.subarray(start + 40, start + 64)].every((x) => x === 1234.5)).toBe(true);
    }
  });
});

it('a NaN gradient poisons only its own element', () => {
  const n = 40;
  for (const name of availableBackends()) {
    const a = makeArrays(n, 0, false, 5, []);
    a.grad[17] = NaN;
    const clean = a.param.slice();
    setBackend(name);
    runSegments([{ ...a, scalars: adamScalars(hyper({ amsgrad: false, maximize: false, decay: 'none' }), 1) }]);
    a.param.forEach((x, i) => {
      expect(Number.isNaN(x), `${name} [${i}]`).toBe(i === 17);
      if (i !== 17) expect(x).not.toBe(clean[i]);
    });
  }
});
