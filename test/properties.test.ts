/**
 * Property tests: every native kernel equals the TypeScript reference bit for bit (any NaN equal
 * to any NaN) over random lengths, offsets and hyperparameters, eps = 0 and beta1 = 0 included,
 * with huge, tiny, NaN and ±Inf gradients.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { runSegments } from '../src/engine/segment_table.js';
import { adamScalars, adamStepReference, type AdamHyper } from '../src/reference/adam.js';
import { firstBitDifference } from './support/compare.js';

const initial = backend();
afterAll(() => setBackend(initial));

const element = fc.oneof(
  { weight: 6, arbitrary: fc.float({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: fc.float({ noDefaultInfinity: false, noNaN: false }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 3.4e38, -3.4e38, 1e-45, -1e-45, 1e-38) },
);
const nonNegative = fc.oneof(fc.float({ min: 0, max: 100, noNaN: true }), fc.constantFrom(0, Infinity, NaN, 1e-45));

const hyper: fc.Arbitrary<AdamHyper> = fc.record({
  lr: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true })),
  beta1: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.999999, noNaN: true })),
  beta2: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.999999, noNaN: true })),
  eps: fc.oneof(fc.constant(0), fc.constant(1e-8), fc.double({ min: 0, max: 1, noNaN: true })),
  weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  amsgrad: fc.boolean(),
  maximize: fc.boolean(),
  decoupledWeightDecay: fc.boolean(),
});

const scenario = fc.record({
  n: fc.integer({ min: 0, max: 200 }),
  offsets: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
  hyper,
  step: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 2 ** 40 })),
  seed: fc.integer(),
}).chain((s) =>
  fc.record({
    s: fc.constant(s),
    param: fc.array(element, { minLength: s.n, maxLength: s.n }),
    grad: fc.array(element, { minLength: s.n, maxLength: s.n }),
    m: fc.array(element, { minLength: s.n, maxLength: s.n }),
    v: fc.array(nonNegative, { minLength: s.n, maxLength: s.n }),
    vmax: fc.array(nonNegative, { minLength: s.n, maxLength: s.n }),
  }),
);

function at(values: number[], offset: number): Float32Array {
  const view = new Float32Array(new ArrayBuffer((values.length + offset) * 4), offset * 4, values.length);
  view.set(values);
  return view;
}

describe.each(availableBackends().filter((b) => b !== 'js'))('the %s kernel, property-tested', (name) => {
  it('equals the reference bit for bit on random inputs', () => {
    fc.assert(
      fc.property(scenario, ({ s, param, grad, m, v, vmax }) => {
        const [o0, o1, o2, o3, o4] = s.offsets;
        const ours = { param: at(param, o0), grad: at(grad, o1), expAvg: at(m, o2), expAvgSq: at(v, o3), maxExpAvgSq: s.hyper.amsgrad ? at(vmax, o4) : null };
        const ref = { param: Float32Array.from(param), grad: Float32Array.from(grad), m: Float32Array.from(m), v: Float32Array.from(v), vmax: s.hyper.amsgrad ? Float32Array.from(vmax) : null };
        const scalars = adamScalars(s.hyper, s.step);
        adamStepReference(ref.param, ref.grad, ref.m, ref.v, ref.vmax, scalars);
        setBackend(name);
        runSegments([{ ...ours, scalars }]);
        expect(firstBitDifference(ours.param, ref.param)).toBeNull();
        expect(firstBitDifference(ours.expAvg, ref.m)).toBeNull();
        expect(firstBitDifference(ours.expAvgSq, ref.v)).toBeNull();
        if (ref.vmax) expect(firstBitDifference(ours.maxExpAvgSq!, ref.vmax)).toBeNull();
        expect(firstBitDifference(ours.grad, Float32Array.from(grad))).toBeNull();
      }),
      // SIMD_ADAM_PROPERTY_RUNS raises the count for a long run (npm run test:long), with a fresh seed.
      process.env.SIMD_ADAM_PROPERTY_RUNS
        ? { numRuns: Number(process.env.SIMD_ADAM_PROPERTY_RUNS) }
        : { numRuns: 300, seed: 20261123 },
    );
  });
});
