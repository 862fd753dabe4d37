/**
 * Property tests: every native kernel equals the TypeScript reference bit for bit (any NaN equal
 * to any NaN) over random lengths, offsets and hyperparameters, eps = 0 and beta1 = 0 included,
 * with huge, tiny, NaN and ±Inf gradients. And a training loop that brings new grads every step
 * (null grads, frozen parameters, detached buffers, grads shared by two parameters, views of one
 * flat buffer) steps exactly as an optimizer whose plan is built from scratch every step.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, availableBackends, backend, Parameter, setBackend } from '../src/index.js';
import { runSegments } from '../src/engine/segment_table.js';
import { adamScalars, adamStepReference, type AdamHyper } from '../src/reference/adam.js';
import { firstBitDifference } from './support/compare.js';
import { f32State } from './support/float32_state.js';
import { fillValues, rng } from './support/random.js';

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

/** How a parameter gets its grad in one step of a training loop. */
const GRAD_KINDS = ['null', 'fresh', 'same', 'shared', 'flat', 'detach', 'detachKept', 'alias'] as const;
type GradKind = (typeof GRAD_KINDS)[number];

const freshLoop = fc.record({
  // Few distinct sizes, so that grads can be shared and parameters' data can be aliased.
  sizes: fc.array(fc.constantFrom<number>(0, 1, 3, 3, 16, 16, 24), { minLength: 1, maxLength: 6 }),
  inStore: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  frozen: fc.array(fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 5, arbitrary: fc.constant(false) }), { minLength: 6, maxLength: 6 }),
  amsgrad: fc.boolean(),
  weightDecay: fc.constantFrom(0, 0.1),
  stateDtype: fc.constantFrom<'float32' | 'bfloat16' | '8bit'>('float32', 'float32', 'bfloat16', '8bit'),
  steps: fc.array(
    fc.array(
      fc.oneof(
        { weight: 2, arbitrary: fc.constant<GradKind>('null') },
        { weight: 5, arbitrary: fc.constant<GradKind>('fresh') },
        { weight: 3, arbitrary: fc.constant<GradKind>('same') },
        { weight: 2, arbitrary: fc.constant<GradKind>('shared') },
        { weight: 3, arbitrary: fc.constant<GradKind>('flat') },
        { weight: 1, arbitrary: fc.constant<GradKind>('detach') },
        { weight: 1, arbitrary: fc.constant<GradKind>('detachKept') },
        { weight: 1, arbitrary: fc.constant<GradKind>('alias') },
      ),
      { minLength: 6, maxLength: 6 },
    ),
    { minLength: 2, maxLength: 8 },
  ),
  seed: fc.integer(),
});

/** Parameters of `sizes`, those flagged `inStore` as consecutive views of one buffer. */
function loopParams(sizes: readonly number[], inStore: readonly boolean[], frozen: readonly boolean[], values: Float32Array): Parameter[] {
  const storeLength = sizes.reduce((n, size, i) => n + (inStore[i] ? size : 0), 0);
  const store = new Float32Array(storeLength + 3).subarray(1, storeLength + 1);
  let at = 0;
  return sizes.map((size, i) => {
    const data = inStore[i] ? store.subarray(at, (at += size)) : new Float32Array(size);
    data.set(values.subarray(0, size));
    return new Parameter(data, { requiresGrad: !frozen[i] });
  });
}

describe('fresh grads each step, property-tested', () => {
  it('step bit for bit as a plan built from scratch, and fail with the same code, whatever grads each step brings', () => {
    fc.assert(
      fc.property(freshLoop, ({ sizes, inStore, frozen, amsgrad, weightDecay, stateDtype, steps, seed }) => {
        const next = rng(seed);
        const values = fillValues(new Float32Array(24), next);
        const ours = loopParams(sizes, inStore, frozen, values);
        const theirs = loopParams(sizes, inStore, frozen, values);
        const options = { lr: 0.01, amsgrad, weightDecay, stateDtype, min8bitSize: 1 };
        const a = new Adam(ours, options);
        const b = new Adam(theirs, options);
        // Each of our grad buffers has a twin with the same contents for `theirs`.
        const twinBuffers = new Map<ArrayBufferLike, ArrayBuffer>();
        const twinOf = (g: Float32Array) => {
          let buffer = twinBuffers.get(g.buffer);
          if (!buffer) twinBuffers.set(g.buffer, (buffer = g.buffer.byteLength === 0 ? new ArrayBuffer(0) : (g.buffer as ArrayBuffer).slice(0)));
          return buffer.byteLength === 0 ? new Float32Array(0) : new Float32Array(buffer, g.byteOffset, g.length);
        };
        const detach = (g: Float32Array) => {
          if (g.buffer.byteLength > 0) structuredClone(g.buffer, { transfer: [g.buffer as ArrayBuffer] });
        };
        for (const kinds of steps) {
          const flat = fillValues(new Float32Array(sizes.reduce((n, s) => n + s, 0) + 2), next);
          let flatAt = 1;
          // Per parameter: [our grad, their grad], built alike.
          const grads = sizes.map((size, i): [Float32Array | null, Float32Array | null] => {
            const kind = kinds[i]!;
            const kept: [Float32Array | null, Float32Array | null] = [ours[i]!.grad, theirs[i]!.grad];
            if (kind === 'null') return [null, null];
            if (kind === 'same' && kept[0]) return kept;
            if (kind === 'detachKept' && kept[0]) {
              kept.forEach((g) => detach(g!));
              return kept;
            }
            // Another parameter's data as this one's grad: refused if that parameter steps.
            const other = sizes.findIndex((s, k) => k !== i && s === size && size > 0);
            if (kind === 'alias' && other >= 0) return [ours[other]!.data, theirs[other]!.data];
            const g = kind === 'flat' ? flat.subarray(flatAt, (flatAt += size)) : fillValues(new Float32Array(size), next);
            const pair: [Float32Array, Float32Array] = [g, twinOf(g)];
            if (kind === 'detach') pair.forEach(detach);
            return pair;
          });
          sizes.forEach((size, i) => {
            const j = sizes.findIndex((s, k) => k < i && s === size && grads[k]![0] !== null);
            if (kinds[i] === 'shared' && j >= 0) grads[i] = grads[j]!;
            [ours[i]!.grad, theirs[i]!.grad] = grads[i]!;
          });
          for (const [p, s] of b.state) (b.state as Map<Parameter, typeof s>).set(p, s); // b's plan is built from scratch every step
          const outcome = (opt: Adam) => {
            try {
              opt.step();
              return 'ok';
            } catch (error) {
              return (error as { code?: string }).code ?? String(error);
            }
          };
          expect(outcome(a)).toBe(outcome(b));
          ours.forEach((p, i) => {
            const q = theirs[i]!;
            expect(p.data.length === 0 || firstBitDifference(p.data, q.data) === null).toBe(true);
            expect(a.state.get(p)?.step).toBe(b.state.get(q)?.step);
            if (stateDtype === 'float32' && a.state.get(p) && b.state.get(q)) {
              const [s, t] = [f32State(a.state.get(p)), f32State(b.state.get(q))];
              expect(firstBitDifference(s.expAvg, t.expAvg)).toBeNull();
              expect(firstBitDifference(s.expAvgSq, t.expAvgSq)).toBeNull();
              if (s.maxExpAvgSq) expect(firstBitDifference(s.maxExpAvgSq, t.maxExpAvgSq!)).toBeNull();
            }
          });
        }
      }),
      process.env.SIMD_ADAM_PROPERTY_RUNS ? { numRuns: Number(process.env.SIMD_ADAM_PROPERTY_RUNS) } : { numRuns: 200, seed: 20261129 },
    );
  });
});
